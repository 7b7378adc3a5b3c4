//! The FTP-to-RTMP relay: files cameras drop in the inbox are streamed one after another,
//! oldest first, always forward in time, into ONE RTMP publish session. The rules live in
//! [`select`] as plain logic; [`output`] runs ffmpeg; the store remembers the last file sent
//! and each file's retries, so a restart neither re-sends nor goes back.

pub mod inbox;
pub mod output;
pub mod select;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::base::{Backoff, DataDir, Tasks};
use crate::config::{Config, url_secrets};
use crate::health::{DeviceEvent, Health, RelayState, RelayStatus};
use crate::store::{Store, StoreError};
use output::{Output, OutputError};
use select::{Decision, LastSent, Rules};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("inbox {path}: {source}")]
    Inbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Start and stop (the `relay` command), and word from the FTP server.
#[derive(Clone)]
pub struct RelayHandle {
    running: watch::Sender<bool>,
    complete: Arc<Mutex<HashSet<String>>>,
    /// Uploads finished since the relay last looked: a file that failed and was uploaded
    /// again (after a camera's own retry) is a new file, not the broken one.
    fresh: Arc<Mutex<HashSet<String>>>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("running", &self.is_running())
            .finish()
    }
}

impl RelayHandle {
    pub fn set_running(&self, on: bool) {
        self.running.send_replace(on);
        self.wake.notify_one();
    }

    pub fn is_running(&self) -> bool {
        *self.running.borrow()
    }

    /// The FTP server saw the upload of `name` (a file directly in the inbox) finish.
    pub fn upload_finished(&self, name: &str) {
        self.complete.lock().insert(name.to_string());
        self.fresh.lock().insert(name.to_string());
        self.wake.notify_one();
    }
}

struct Relay {
    dir: PathBuf,
    url: String,
    secrets: Vec<String>,
    rules: Rules,
    scan_every: Duration,
    max_retries: i64,
    retry_delay: chrono::Duration,
    store: Store,
    health: Health,
    handle: RelayHandle,
    output: Option<Output>,
    backoff: Backoff,
    status: RelayStatus,
}

impl Relay {
    async fn run(mut self, cancel: CancellationToken) -> Result<(), RelayError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| RelayError::Inbox {
            path: self.dir.clone(),
            source,
        })?;
        let mut running = self.handle.running.subscribe();
        let wake = self.handle.wake.clone();
        loop {
            if cancel.is_cancelled() {
                break;
            }
            if !*running.borrow_and_update() {
                if let Some(o) = self.output.take() {
                    o.close().await;
                }
                self.publish(RelayState::Stopped, None, None).await?;
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = running.changed() => continue,
                }
            }
            let sent_one = tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.run_once() => r?,
            };
            if !sent_one {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = wake.notified() => {}
                    _ = running.changed() => {}
                    _ = tokio::time::sleep(self.scan_every) => {}
                }
            }
        }
        if let Some(o) = self.output.take() {
            o.close().await;
        }
        Ok(())
    }

    /// One look at the inbox, and at most one file sent. Returns whether it sent (or tried)
    /// a file, in which case the next look comes at once.
    async fn run_once(&mut self) -> Result<bool, RelayError> {
        let dir = self.dir.clone();
        let listing = tokio::task::spawn_blocking(move || inbox::scan(&dir))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(|source| RelayError::Inbox {
                path: self.dir.clone(),
                source,
            })?;
        for odd in &listing.odd {
            let name = odd.to_string_lossy().into_owned();
            self.give_up(
                &name,
                odd,
                "not a regular file with a UTF-8 name (links are never followed)",
            )
            .await?;
        }
        let fresh: Vec<String> = self.handle.fresh.lock().drain().collect();
        for name in fresh {
            self.store
                .write(move |db| db.relay_forget_retry(&name))
                .await?;
        }
        let progress = self.store.read(|db| db.relay_progress()).await?;
        let retries = self.store.read(|db| db.relay_retries()).await?;
        let last = progress.last.map(|(name, stamp)| LastSent { name, stamp });
        let complete = self.complete_snapshot(&listing.files);
        let d: Decision = select::decide(
            &listing.files,
            self.health.now(),
            last.as_ref(),
            &complete,
            &retries,
            &self.rules,
        );
        if !d.stale.is_empty() {
            for name in &d.stale {
                tracing::info!(file = %name, "relay: behind the stream, deleting");
                inbox::delete(&self.dir, name).map_err(|source| RelayError::Inbox {
                    path: self.dir.join(name),
                    source,
                })?;
            }
            let n = d.stale.len();
            self.store.write(move |db| db.relay_skipped(n)).await?;
        }
        let Some(name) = d.next else {
            let state = if self.output.is_some() {
                RelayState::Idle
            } else {
                RelayState::Waiting
            };
            self.publish(state, None, Some(d.pending)).await?;
            return Ok(false);
        };
        let path = self.dir.join(&name);
        let entry = listing
            .files
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .expect("decided from the listing");
        self.publish(RelayState::Streaming, Some(name.clone()), Some(d.pending))
            .await?;
        let probed = match output::probe(&path).await {
            Ok(p) => p,
            Err(OutputError::Input(e)) => {
                self.attempt_failed(&name, &e).await?;
                return Ok(true);
            }
            Err(e) => return Err(e.into()),
        };
        self.ensure_output(&probed.params).await?;
        let out = self.output.as_mut().expect("just ensured");
        match out.send(&path, probed.duration_s).await {
            Ok(()) => {
                self.backoff.reset();
                let (n, stamp, now) = (name.clone(), entry.stamp(), self.health.now());
                self.store
                    .write(move |db| db.relay_sent(&n, stamp, now))
                    .await?;
                // Durable before the file goes: a crash now must not send it again.
                self.store.flush().await?;
                inbox::delete(&self.dir, &name).map_err(|source| RelayError::Inbox {
                    path: path.clone(),
                    source,
                })?;
                self.handle.complete.lock().remove(&name);
                tracing::info!(file = %name, duration_s = probed.duration_s, "relay: sent");
                self.health.emit(DeviceEvent::RelaySent {
                    file: name,
                    duration_s: probed.duration_s,
                });
            }
            Err(OutputError::Input(e)) => self.attempt_failed(&name, &e).await?,
            Err(e) => {
                // The session broke (a server restart): the file goes again on a new one.
                if let Some(o) = self.output.take() {
                    o.close().await;
                }
                let delay = self.backoff.next_delay();
                tracing::warn!(error = %e, retry_in_s = delay.as_secs_f64(), file = %name, "relay: RTMP session lost; reconnecting");
                self.publish(RelayState::Reconnecting, Some(name), Some(d.pending))
                    .await?;
                tokio::time::sleep(delay).await;
            }
        }
        Ok(true)
    }

    /// FTP-complete names still in the inbox (the rest are forgotten).
    fn complete_snapshot(&self, files: &[select::Entry]) -> HashSet<String> {
        let mut c = self.handle.complete.lock();
        c.retain(|n| files.iter().any(|f| &f.name == n));
        c.clone()
    }

    async fn ensure_output(&mut self, params: &output::StreamParams) -> Result<(), RelayError> {
        if let Some(o) = self.output.as_mut()
            && (!o.alive() || &o.params != params)
        {
            if o.alive() {
                tracing::info!(from = ?o.params, to = ?params, "relay: stream parameters changed; new RTMP session");
            }
            if let Some(o) = self.output.take() {
                o.close().await;
            }
        }
        if self.output.is_none() {
            self.output = Some(Output::start(
                &self.url,
                self.secrets.clone(),
                params.clone(),
            )?);
        }
        Ok(())
    }

    async fn attempt_failed(&mut self, name: &str, error: &str) -> Result<(), RelayError> {
        let next = self.health.now() + self.retry_delay;
        let (n, e) = (name.to_string(), error.to_string());
        let attempts = self
            .store
            .write(move |db| db.relay_attempt_failed(&n, &e, next))
            .await?;
        if attempts > self.max_retries {
            self.give_up(name, name.as_ref(), error).await
        } else {
            tracing::warn!(file = %name, attempts, error, "relay: file not sent; will retry");
            Ok(())
        }
    }

    async fn give_up(
        &mut self,
        name: &str,
        raw: &std::ffi::OsStr,
        error: &str,
    ) -> Result<(), RelayError> {
        let moved = inbox::move_to_failed(&self.dir, raw).map_err(|source| RelayError::Inbox {
            path: self.dir.join(raw),
            source,
        })?;
        let n = name.to_string();
        self.store.write(move |db| db.relay_gave_up(&n)).await?;
        self.store.flush().await?;
        tracing::error!(file = %name, error, moved_to = %moved.display(), "relay: gave up on a file");
        self.health.emit(DeviceEvent::RelayFailed {
            file: name.to_string(),
            error: error.to_string(),
            moved_to: moved,
        });
        Ok(())
    }

    async fn publish(
        &mut self,
        state: RelayState,
        current: Option<String>,
        pending: Option<usize>,
    ) -> Result<(), RelayError> {
        let p = self.store.read(|db| db.relay_progress()).await?;
        let status = RelayStatus {
            state,
            current_file: current,
            pending: pending.map_or(self.status.pending, |n| n as i64),
            sent: p.sent,
            failed: p.failed,
        };
        if status != self.status {
            self.health.set_relay(status.clone());
            self.status = status;
        }
        Ok(())
    }
}

/// Starts the relay when `[relay] enabled`.
pub fn spawn(cfg: &Config, store: Store, health: Health, tasks: &mut Tasks) -> Option<RelayHandle> {
    let r = &cfg.relay;
    if !r.enabled {
        return None;
    }
    let url = r.rtmp_url.as_ref()?.expose().to_string();
    let handle = RelayHandle {
        running: watch::channel(true).0,
        complete: Default::default(),
        fresh: Default::default(),
        wake: Arc::new(Notify::new()),
    };
    let dir = inbox_dir(cfg);
    let (watched, wake) = (dir.clone(), handle.wake.clone());
    tasks.spawn_supervised("relay inbox watch", move |tok| {
        watch_inbox(watched.clone(), wake.clone(), tok)
    });
    let rules = Rules {
        min_age: chrono::Duration::seconds(r.min_file_age_seconds.into()),
        max_lag: chrono::Duration::seconds(r.max_lag_seconds.into()),
    };
    let (scan_every, max_retries, retry_delay) = (
        Duration::from_secs(r.scan_interval_seconds.into()),
        i64::from(r.max_retries),
        chrono::Duration::seconds(r.retry_delay_seconds.into()),
    );
    let (expiring, keep, clock_of) = (
        dir.clone(),
        chrono::Duration::days(r.keep_failed_days.into()),
        health.clone(),
    );
    tasks.spawn_supervised("relay inbox expiry", move |tok| {
        expire_junk(expiring.clone(), keep, clock_of.clone(), tok)
    });
    let h = handle.clone();
    tasks.spawn_supervised("relay", move |tok| {
        Relay {
            dir: dir.clone(),
            secrets: url_secrets(&url),
            url: url.clone(),
            rules,
            scan_every,
            max_retries,
            retry_delay,
            store: store.clone(),
            health: health.clone(),
            handle: h.clone(),
            output: None,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(30)),
            status: RelayStatus::default(),
        }
        .run(tok)
    });
    Some(handle)
}

/// Wakes the relay when a file in the inbox is closed after writing or moved in (files that
/// arrive by other means than our FTP server: a share, rsync), until cancelled. The scan
/// interval remains the fallback when inotify is unavailable.
async fn watch_inbox(
    dir: PathBuf,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) -> Result<(), RelayError> {
    use nix::sys::inotify::AddWatchFlags;
    std::fs::create_dir_all(&dir).map_err(|source| RelayError::Inbox {
        path: dir.clone(),
        source,
    })?;
    let inbox_err = |e: nix::Error| RelayError::Inbox {
        path: dir.clone(),
        source: std::io::Error::from(e),
    };
    let fd = crate::base::inotify::watch(
        &dir,
        AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO,
    )
    .map_err(|source| RelayError::Inbox {
        path: dir.clone(),
        source,
    })?;
    loop {
        let mut ready = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = fd.readable() => r.map_err(|source| RelayError::Inbox { path: dir.clone(), source })?,
        };
        match ready.get_inner().read_events() {
            Ok(events) if !events.is_empty() => wake.notify_one(),
            Ok(_) | Err(nix::Error::EAGAIN) => ready.clear_ready(),
            Err(e) => return Err(inbox_err(e)),
        }
    }
}

/// Once an hour, deletes what the relay will never send and that is older than `keep`.
async fn expire_junk(
    dir: PathBuf,
    keep: chrono::Duration,
    health: Health,
    cancel: CancellationToken,
) -> Result<(), RelayError> {
    loop {
        let before = std::time::SystemTime::from(health.now() - keep);
        let d = dir.clone();
        match tokio::task::spawn_blocking(move || inbox::expire(&d, before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(files = n, "relay: expired failed and non-video files"),
            Ok(Err(source)) => return Err(RelayError::Inbox { path: dir, source }),
            Err(e) => tracing::warn!(error = %e, "relay: expiry did not run"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// `relay.watch_dir`, or `<data_dir>/inbox`.
pub fn inbox_dir(cfg: &Config) -> PathBuf {
    cfg.relay
        .watch_dir
        .clone()
        .unwrap_or_else(|| DataDir::new(&cfg.device.data_dir).inbox())
}
