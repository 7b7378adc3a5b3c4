//! The recorder: one supervised ffmpeg per camera writing clock-aligned fragmented-MP4
//! segments; each closed segment is fsynced, recorded in the store, and announced on the
//! [`SegmentEvent`] channel (the `OnSegmentComplete` hook the uploader and MQTT listen to).

mod camera;
pub mod clip;
pub mod layout;
mod preview;
pub mod recovery;
mod snapshot;
pub use snapshot::preview_path;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{OnceCell, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::base::tasks::infallible;
use crate::base::{DataDir, Tasks};
use crate::config::Config;
use crate::health::{DeviceEvent, Health};
use crate::media::MediaError;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("recordings folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("ffmpeg made no progress for {0} s")]
    Stalled(u64),
    #[error("ffmpeg exited ({0})")]
    Exited(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    NoFootage(String),
    #[error("no camera named `{0}`")]
    UnknownCamera(String),
}

/// A clip or snapshot, written, fsynced and in the store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MediaFile {
    pub id: i64,
    pub kind: crate::store::MediaKind,
    pub camera: String,
    /// Relative to data_dir.
    pub path: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bytes: u64,
}

/// A segment that is closed, on disk for good, and in the store.
#[derive(Debug, Clone)]
pub struct SegmentEvent {
    pub id: i64,
    pub camera: String,
    /// Relative to data_dir.
    pub path: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bytes: i64,
}

/// What every camera task shares.
pub struct Ctx {
    pub data_dir: DataDir,
    pub store: Store,
    pub health: Health,
    pub events: broadcast::Sender<SegmentEvent>,
    pub segment_seconds: u32,
    pub fragment_seconds: u32,
    /// `recording.ffmpeg`: what cameras that copy record with.
    pub copy_ffmpeg: String,
    /// The file each camera's ffmpeg is writing now (for clips and snapshots).
    open_segments: parking_lot::Mutex<BTreeMap<String, PathBuf>>,
    test_clip: OnceCell<PathBuf>,
    auto_encoder: OnceCell<&'static str>,
    /// Told whenever a camera's ffmpeg fails (a full card is one reason): retention looks
    /// at once instead of at its next pass.
    space_wanted: Arc<tokio::sync::Notify>,
}

impl Ctx {
    async fn test_clip(&self) -> Result<PathBuf, MediaError> {
        let cache = self.data_dir.cache();
        self.test_clip
            .get_or_try_init(|| crate::media::testsrc::ensure_clip(&cache))
            .await
            .cloned()
    }
}

impl Ctx {
    /// The `OnSegmentComplete` hook: the uploader's channel and the device event bus.
    fn announce(&self, seg: SegmentEvent) {
        self.health.emit(DeviceEvent::SegmentClosed {
            camera: seg.camera.clone(),
            path: seg.path.clone(),
            start: seg.start,
            end: seg.end,
            bytes: seg.bytes,
        });
        let _ = self.events.send(seg);
    }

    fn set_open(&self, camera: &str, path: Option<PathBuf>) {
        let mut m = self.open_segments.lock();
        match path {
            Some(p) => m.insert(camera.to_string(), p),
            None => m.remove(camera),
        };
    }

    /// The segment file a camera's ffmpeg is writing now, if it records.
    pub fn open_segment(&self, camera: &str) -> Option<PathBuf> {
        self.open_segments.lock().get(camera).cloned()
    }

    async fn auto_encoder(&self) -> &'static str {
        self.auto_encoder
            .get_or_init(crate::media::v4l2::auto_encoder)
            .await
    }
}

/// Starts and stops cameras on command (`record {camera, enabled}`).
#[derive(Clone)]
pub struct RecorderHandle {
    enabled: BTreeMap<String, watch::Sender<bool>>,
    events: broadcast::Sender<SegmentEvent>,
    ctx: Arc<Ctx>,
}

impl RecorderHandle {
    /// The record switch: takes effect at once and is kept in the store, so a camera
    /// switched off stays off after a restart.
    pub async fn set_enabled(&self, camera: &str, enabled: bool) -> Result<(), RecorderError> {
        let tx = self
            .enabled
            .get(camera)
            .ok_or_else(|| RecorderError::UnknownCamera(camera.to_string()))?;
        tx.send_replace(enabled);
        let cam = camera.to_string();
        self.ctx
            .store
            .write(move |db| db.set_wanted(&cam, enabled))
            .await?;
        self.ctx.store.flush().await?;
        Ok(())
    }

    /// An event clip of [at − pre, at + post] (waits until it has been recorded).
    pub async fn clip(
        &self,
        camera: &str,
        at: DateTime<Utc>,
        pre: std::time::Duration,
        post: std::time::Duration,
    ) -> Result<MediaFile, RecorderError> {
        self.known(camera)?;
        self.ctx.clip(camera, at, pre, post).await
    }

    /// A JPEG of the newest keyframe of the segment being recorded.
    pub async fn snapshot(&self, camera: &str) -> Result<MediaFile, RecorderError> {
        self.known(camera)?;
        self.ctx.snapshot(camera).await
    }

    fn known(&self, camera: &str) -> Result<(), RecorderError> {
        if self.enabled.contains_key(camera) {
            Ok(())
        } else {
            Err(RecorderError::UnknownCamera(camera.to_string()))
        }
    }

    /// Recovery as after an ffmpeg run that began at `since` (every day folder when None).
    /// Run only while the camera's ffmpeg does not: the benchmark and tests call it on
    /// stopped cameras.
    pub async fn recover(
        &self,
        camera: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<recovery::Recovered, RecorderError> {
        self.known(camera)?;
        recovery::reconcile(&self.ctx, camera, since).await
    }

    /// Notified when a camera's recording fails, so retention can make room at once.
    pub fn space_wanted(&self) -> Arc<tokio::sync::Notify> {
        self.ctx.space_wanted.clone()
    }

    /// Closed segments from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SegmentEvent> {
        self.events.subscribe()
    }
}

/// Spawns one task per configured camera into `tasks`. A camera records while it is enabled
/// (config, then `record` commands) and `disk_paused` (retention's `stop-recording`) is false.
pub fn spawn(
    cfg: &Config,
    store: Store,
    health: Health,
    disk_paused: watch::Receiver<bool>,
    wanted: &BTreeMap<String, bool>,
    tasks: &mut Tasks,
) -> RecorderHandle {
    let (events, _) = broadcast::channel(256);
    let ctx = Arc::new(Ctx {
        data_dir: DataDir::new(&cfg.device.data_dir),
        store,
        health,
        events: events.clone(),
        segment_seconds: cfg.recording.segment_seconds,
        fragment_seconds: cfg.recording.fragment_seconds,
        copy_ffmpeg: cfg.recording.ffmpeg.clone(),
        open_segments: Default::default(),
        test_clip: OnceCell::new(),
        auto_encoder: OnceCell::new(),
        space_wanted: Default::default(),
    });
    let mut enabled = BTreeMap::new();
    for cam in &cfg.cameras {
        // The record switch as last set (kept in the store), else the config's `enabled`.
        let on = cam.enabled && wanted.get(&cam.name).copied().unwrap_or(true);
        let (user_tx, user) = watch::channel(on);
        let (tx, rx) = watch::channel(on && !*disk_paused.borrow());
        enabled.insert(cam.name.clone(), user_tx);
        let (tx, paused) = (Arc::new(tx), disk_paused.clone());
        tasks.spawn_supervised(format!("switch {}", cam.name), move |tok| {
            infallible(combine(user.clone(), paused.clone(), tx.clone(), tok))
        });
        let (ctx, cam) = (ctx.clone(), cam.clone());
        // A panic in one camera's task restarts that camera, and only it.
        tasks.spawn_supervised(format!("camera {}", cam.name), move |tok| {
            let task = camera::CameraTask::new(ctx.clone(), cam.clone());
            infallible(task.run(rx.clone(), tok))
        });
    }
    // Previews exist for Home Assistant's camera entity and the status page.
    let every = cfg.mqtt.snapshot_interval_seconds;
    let shown = cfg.mqtt.url.is_some() || cfg.http.listen.is_some();
    if shown && every > 0 && !cfg.cameras.is_empty() {
        let cameras: Vec<String> = cfg.cameras.iter().map(|c| c.name.clone()).collect();
        let (c, every) = (ctx.clone(), std::time::Duration::from_secs(every.into()));
        tasks.spawn_supervised("previews", move |tok| {
            infallible(preview::run(c.clone(), cameras.clone(), every, tok))
        });
    }
    RecorderHandle {
        enabled,
        events,
        ctx,
    }
}

/// Calls `f` for every closed segment (missed ones included) until cancelled.
pub async fn on_segment(
    mut rx: broadcast::Receiver<SegmentEvent>,
    cancel: CancellationToken,
    f: impl Fn() + Send + 'static,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = rx.recv() => match r {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => f(),
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Keeps `out` = the user wants the camera on and the disk has room.
async fn combine(
    mut user: watch::Receiver<bool>,
    mut disk_paused: watch::Receiver<bool>,
    out: Arc<watch::Sender<bool>>,
    cancel: CancellationToken,
) {
    let mut disk_open = true;
    loop {
        let paused = disk_open && *disk_paused.borrow_and_update();
        let want = *user.borrow_and_update() && !paused;
        out.send_if_modified(|v| std::mem::replace(v, want) != want);
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = user.changed() => if r.is_err() { return },
            // Retention gone: only the user's wish counts from then on.
            r = disk_paused.changed(), if disk_open => disk_open = r.is_ok(),
        }
    }
}
