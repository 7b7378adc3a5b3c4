//! The uploader: turns closed segments into upload jobs in the store and uploads them, one
//! job at a time with `concurrency` parts in flight, to S3 (resumable signed multipart) or a
//! folder. A job is done only after the destination confirms size and checksum.

pub mod bandwidth;
mod buffers;
mod dir;
pub mod plan;
pub mod s3;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::base::tasks::infallible;
use crate::base::{SharedClock, Tasks};
use crate::config::schedule::Schedule;
use crate::config::{Config, Destination};
use crate::health::Health;
use crate::store::{MediaKind, Store, StoreError};
use chrono::{DateTime, Utc};
pub use s3::S3Error;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Permanent(String),
    #[error("{0}")]
    Retry(String),
    /// The server holds something other than the file after the upload.
    #[error("verification failed: {0}")]
    Verify(String),
}

impl UploadError {
    pub fn is_permanent(&self) -> bool {
        match self {
            UploadError::S3(e) => e.is_permanent(),
            UploadError::Permanent(_) => true,
            _ => false,
        }
    }

    /// Fails the job once it has recurred a few times: wrong credentials or bucket (after a
    /// short grace), or a server that keeps holding other bytes than ours.
    pub fn fails_after_retries(&self) -> bool {
        match self {
            UploadError::S3(e) => e.is_config_error(),
            UploadError::Verify(_) => true,
            _ => false,
        }
    }
}

/// Pause, resume and retry-failed, for the control socket and MQTT.
#[derive(Clone)]
pub struct UploaderHandle {
    paused: watch::Sender<bool>,
    ctx: Arc<Ctx>,
}

impl UploaderHandle {
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
        self.ctx.wake.notify_one();
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Where a stored file goes: its object key (or path under the destination folder).
    pub fn object_key(
        &self,
        kind: MediaKind,
        camera: &str,
        start: DateTime<Utc>,
        path: &str,
    ) -> String {
        crate::store::QueuePolicy {
            template: self.ctx.cfg.upload.key_template.clone(),
            device: self.ctx.cfg.device.id.clone(),
        }
        .key(kind, camera, start, path)
    }

    /// A presigned GET URL for an object (S3 only); it works once the upload is done.
    pub fn presign(&self, key: &str) -> Option<String> {
        // A URL signed with temporary credentials must carry the session token in the clear:
        // that secret stays out of events.
        if self.ctx.cfg.upload.session_token.is_some() {
            return None;
        }
        let hours = u64::from(self.ctx.cfg.upload.presign_expiry_hours);
        let s3 = self.ctx.s3.as_ref()?;
        s3.presign_get(key, std::time::Duration::from_secs(hours * 3600))
            .map_err(|e| tracing::warn!(error = %e, "could not presign a URL"))
            .ok()
    }

    /// Re-reads `secret_access_key_file` and `session_token_file` (SIGHUP): a rotated key
    /// takes effect without a restart. Keys given inline stay as they are.
    pub fn reload_credentials(&self) -> Result<bool, crate::config::ConfigError> {
        let Some(s3) = &self.ctx.s3 else {
            return Ok(false);
        };
        let u = &self.ctx.cfg.upload;
        let secret = match &u.secret_access_key_file {
            Some(p) => Some(crate::config::read_secret(
                "upload.secret_access_key_file",
                p,
            )?),
            None => u.secret_access_key.as_ref().map(|s| s.expose().to_string()),
        };
        let token = match &u.session_token_file {
            Some(p) => Some(crate::config::read_secret("upload.session_token_file", p)?),
            None => u.session_token.as_ref().map(|s| s.expose().to_string()),
        };
        let key_id = u.access_key_id.clone().unwrap_or_default();
        s3.set_credentials(&key_id, &secret.unwrap_or_default(), token.as_deref());
        self.ctx.wake.notify_one();
        Ok(true)
    }

    /// Look at the queue now (a clip or snapshot was just stored).
    pub fn wake(&self) {
        self.ctx.wake.notify_one();
    }

    pub async fn retry_failed(&self) -> Result<usize, StoreError> {
        let n = self.ctx.store.write(|db| db.retry_failed()).await?;
        self.ctx.store.flush().await?;
        self.ctx.wake.notify_one();
        Ok(n)
    }
}

pub(crate) struct Ctx {
    pub cfg: Config,
    pub data_dir: PathBuf,
    pub store: Store,
    pub health: Health,
    pub paused: watch::Receiver<bool>,
    pub wake: Arc<Notify>,
    pub s3: Option<s3::S3>,
}

/// Starts the uploader when a destination is configured.
pub fn spawn(
    cfg: &Config,
    store: Store,
    health: Health,
    tasks: &mut Tasks,
) -> Result<Option<UploaderHandle>, S3Error> {
    if cfg.upload.destination == Destination::None {
        return Ok(None);
    }
    let limiter = bandwidth::Limiter::new(cfg.upload.bandwidth_limit.bytes_per_second());
    if let Some(schedule) = &cfg.upload.bandwidth_schedule {
        let (schedule, limiter, clock) =
            (schedule.clone(), limiter.clone(), health.clock().clone());
        tasks.spawn_supervised("bandwidth schedule", move |tok| {
            infallible(follow_schedule(
                schedule.clone(),
                limiter.clone(),
                clock.clone(),
                tok,
            ))
        });
    }
    let skew = health.clock_offset();
    let s3 = match cfg.upload.destination {
        Destination::S3 => Some(s3::S3::new(
            &cfg.upload,
            limiter,
            health.clock().clone(),
            skew,
            test_clock_skew_ms(),
        )?),
        _ => None,
    };
    let (paused_tx, paused) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let ctx = Arc::new(Ctx {
        cfg: cfg.clone(),
        data_dir: cfg.device.data_dir.clone(),
        store: store.clone(),
        health,
        paused,
        wake: wake.clone(),
        s3,
    });
    let worker_ctx = ctx.clone();
    tasks.spawn_supervised("uploader", move |tok| worker::run(worker_ctx.clone(), tok));
    Ok(Some(UploaderHandle {
        paused: paused_tx,
        ctx,
    }))
}

/// A test seam: `CV_TEST_CLOCK_SKEW_S` pretends our clock is that many seconds behind the
/// truth (as a Pi without RTC is before NTP), so the correction can be tested end to end.
fn test_clock_skew_ms() -> i64 {
    std::env::var("CV_TEST_CLOCK_SKEW_S")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(0, |s| -s * 1000)
}

/// Applies the weekly schedule to the shared limiter, checking every 20 s.
async fn follow_schedule(
    schedule: Schedule,
    limiter: bandwidth::Limiter,
    clock: SharedClock,
    cancel: CancellationToken,
) {
    let mut last = None;
    loop {
        let rate = schedule
            .rate_at(clock.now().with_timezone(&chrono::Local).naive_local())
            .bytes_per_second();
        if last != Some(rate) {
            tracing::info!(rate = ?rate, "upload: bandwidth schedule");
            limiter.set_rate(rate);
            last = Some(rate);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(20)) => {}
        }
    }
}
