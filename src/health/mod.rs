//! The device's state as one JSON-able snapshot: what `camvault status` prints, what the
//! control socket's `status` command answers, and what MQTT's retained `state` topic carries
//! (every field DESIGN.md lists). Components publish their live state into [`Health`]; the
//! store supplies history; [`monitor`] turns observations into alerts.

pub mod alerts;
mod system;
mod wear;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Destination};
use crate::events::{Event, EventBus};
use crate::store::{CameraSummary, QueueSummary, Store, StoreError};
use alerts::{Alert, Alerts, Change, Observation, Thresholds};
use system::SystemMetrics;

/// `state.cameras.<name>.state` in the MQTT contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    Starting,
    Recording,
    Backoff,
    Stopped,
    Disabled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CameraStatus {
    pub state: CameraState,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub frame_loss_percent: f64,
    pub restarts: u64,
    pub segments: i64,
    pub bytes: i64,
    pub last_segment_end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiskStatus {
    pub path: PathBuf,
    pub total_bytes: u64,
    pub free_bytes: u64,
    /// As `df` counts it: `used_percent` is used over used + free.
    pub used_bytes: u64,
    pub used_percent: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueStatus {
    pub pending: i64,
    pub pending_bytes: i64,
    pub oldest_pending_age_s: Option<i64>,
    pub uploading: i64,
    pub failed: i64,
    pub uploaded_24h: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelayStatus {
    pub state: String,
    pub current_file: Option<String>,
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// Retention's side of the card: what it deleted, whether recording is paused for space,
/// and how much is written per day (so users can size their card).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StorageStatus {
    /// `on_disk_full = "stop-recording"` and the disk is full.
    pub recording_paused: bool,
    pub deleted_24h: i64,
    pub deleted_bytes_24h: i64,
    /// Deleted before upload because the disk was critical.
    pub data_loss_24h: i64,
    /// Segments, clips and snapshots finished in the last 24 h.
    pub media_written_24h_bytes: i64,
    /// The store's own writes (WAL, checkpoints), per day over up to the last 24 h.
    pub store_written_per_day_bytes: Option<u64>,
    /// The sum: what the card takes per day.
    pub written_per_day_bytes: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub device_id: String,
    pub version: String,
    /// `daemon` when the running daemon answered, `store` when read from the database.
    pub source: String,
    pub uptime_s: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub mem_used_bytes: Option<u64>,
    pub mem_total_bytes: Option<u64>,
    pub temperature_c: Option<f64>,
    pub disk: Option<DiskStatus>,
    pub cameras: BTreeMap<String, CameraStatus>,
    pub queue: QueueStatus,
    pub relay: RelayStatus,
    pub storage: StorageStatus,
    pub alerts: Vec<Alert>,
}

/// What a recorder reports about its camera.
#[derive(Debug, Clone, Copy)]
pub struct CameraLive {
    pub state: CameraState,
    pub restarts: u64,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub frame_loss_percent: f64,
}

impl CameraLive {
    pub fn idle(state: CameraState) -> CameraLive {
        CameraLive {
            state,
            restarts: 0,
            fps: 0.0,
            bitrate_kbps: 0.0,
            frame_loss_percent: 0.0,
        }
    }
}

/// Live state shared between the components and whoever asks for a status.
#[derive(Clone)]
pub struct Health {
    device_id: String,
    data_dir: PathBuf,
    uploads: bool,
    relay_enabled: bool,
    thresholds: (f64, f64),
    started: Instant,
    cameras: Arc<Mutex<BTreeMap<String, CameraLive>>>,
    system: Arc<Mutex<SystemMetrics>>,
    alerts: Arc<Mutex<Alerts>>,
    /// Server time minus ours (ms), shared with the uploader's signer.
    clock_offset_ms: Arc<std::sync::atomic::AtomicI64>,
    /// When an upload last finished (or the daemon started).
    upload_progress: Arc<Mutex<Instant>>,
    recording_paused: Arc<std::sync::atomic::AtomicBool>,
    relay: Arc<Mutex<Option<RelayStatus>>>,
    wear: Arc<Mutex<wear::WearMeter>>,
    /// Bumped on every camera state change and alert change: "publish the state now".
    changed: watch::Sender<u64>,
    events: EventBus,
    store: Store,
}

fn initial_cameras(cfg: &Config, enabled_state: CameraState) -> BTreeMap<String, CameraLive> {
    cfg.cameras
        .iter()
        .map(|c| {
            let state = if c.enabled {
                enabled_state
            } else {
                CameraState::Disabled
            };
            (c.name.clone(), CameraLive::idle(state))
        })
        .collect()
}

impl Health {
    pub fn new(cfg: &Config, store: Store, events: EventBus) -> Health {
        Health {
            device_id: cfg.device.id.clone(),
            data_dir: cfg.device.data_dir.clone(),
            uploads: cfg.upload.destination != Destination::None,
            relay_enabled: cfg.relay.enabled,
            thresholds: (
                f64::from(cfg.retention.disk_warn_percent),
                f64::from(cfg.retention.disk_critical_percent),
            ),
            started: Instant::now(),
            cameras: Arc::new(Mutex::new(initial_cameras(cfg, CameraState::Starting))),
            system: Arc::new(Mutex::new(SystemMetrics::new())),
            alerts: Arc::new(Mutex::new(Alerts::default())),
            clock_offset_ms: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            upload_progress: Arc::new(Mutex::new(Instant::now())),
            recording_paused: Default::default(),
            relay: Default::default(),
            wear: Default::default(),
            changed: watch::channel(0).0,
            events,
            store,
        }
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// The clock offset the uploader learns from the storage server.
    pub fn clock_offset(&self) -> Arc<std::sync::atomic::AtomicI64> {
        self.clock_offset_ms.clone()
    }

    /// An upload finished: the queue is moving.
    pub fn upload_progressed(&self) {
        if let Ok(mut t) = self.upload_progress.lock() {
            *t = Instant::now();
        }
    }

    /// Retention paused (or resumed) recording for lack of space.
    pub fn set_recording_paused(&self, paused: bool) {
        self.recording_paused
            .store(paused, std::sync::atomic::Ordering::Relaxed);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The relay's state, as it changes.
    pub fn set_relay(&self, status: RelayStatus) {
        if let Ok(mut r) = self.relay.lock() {
            *r = Some(status);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Resolves whenever something worth publishing at once has changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Called by a camera's recorder whenever its state or figures change.
    pub fn set_camera(&self, name: &str, live: CameraLive) {
        let Ok(mut cams) = self.cameras.lock() else {
            return;
        };
        let previous = cams.insert(name.to_string(), live);
        if previous.is_none_or(|p| p.state != live.state) {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    pub async fn status(&self) -> Result<Status, StoreError> {
        let summaries = self.store.read(|db| db.camera_summaries()).await?;
        let now = Utc::now();
        let pending = if self.uploads {
            Some(self.store.read(move |db| db.queue_summary(now)).await?)
        } else {
            None
        };
        let live = self.cameras.lock().map(|c| c.clone()).unwrap_or_default();
        let mut status = assemble(
            &self.device_id,
            &self.data_dir,
            "daemon",
            &live,
            summaries,
            pending,
            self.relay_enabled,
        );
        status.uptime_s = Some(self.started.elapsed().as_secs());
        let sample = self
            .system
            .lock()
            .map(|mut s| s.sample())
            .unwrap_or_default();
        status.cpu_percent = Some(sample.cpu_percent);
        status.mem_used_bytes = Some(sample.mem_used_bytes);
        status.mem_total_bytes = Some(sample.mem_total_bytes);
        status.temperature_c = sample.temperature_c;
        status.alerts = self.alerts.lock().map(|a| a.active()).unwrap_or_default();
        status.storage = storage_status(&self.store).await?;
        if let Some(relay) = self.relay.lock().ok().and_then(|r| r.clone()) {
            status.relay = relay;
        }
        status.storage.recording_paused = self
            .recording_paused
            .load(std::sync::atomic::Ordering::Relaxed);
        let store_rate = wear::own_write_bytes().and_then(|b| {
            self.wear
                .lock()
                .ok()
                .and_then(|mut w| w.per_day(std::time::Instant::now(), b))
        });
        status.storage.store_written_per_day_bytes = store_rate;
        status.storage.written_per_day_bytes =
            status.storage.media_written_24h_bytes + store_rate.unwrap_or(0) as i64;
        Ok(status)
    }

    /// Evaluates the alerts once; raised and cleared ones become events.
    pub async fn check_alerts(&self) -> Result<(), StoreError> {
        let status = self.status().await?;
        let cameras = status
            .cameras
            .iter()
            // Deliberately stopped or disabled cameras are not expected to record.
            .filter(|(_, c)| !matches!(c.state, CameraState::Stopped | CameraState::Disabled))
            .map(|(n, c)| {
                (
                    n.clone(),
                    (c.state == CameraState::Recording, c.frame_loss_percent),
                )
            })
            .collect();
        let waiting = status.queue.pending + status.queue.uploading > 0;
        let since = self
            .upload_progress
            .lock()
            .map(|t| t.elapsed().as_secs() as i64)
            .unwrap_or(0);
        if !waiting {
            // Nothing to do is not a stall: restart the clock.
            self.upload_progressed();
        }
        let obs = Observation {
            disk_used_percent: status.disk.map(|d| d.used_percent),
            clock_offset_s: self
                .clock_offset_ms
                .load(std::sync::atomic::Ordering::Relaxed)
                / 1000,
            uploads_waiting: waiting,
            since_upload_progress_s: since,
            cameras,
        };
        let th = Thresholds {
            disk_warn: self.thresholds.0,
            disk_critical: self.thresholds.1,
        };
        let changes = match self.alerts.lock() {
            Ok(mut a) => a.observe(&obs, &th, Utc::now()),
            Err(_) => return Ok(()),
        };
        for change in &changes {
            let (kind, alert) = match change {
                Change::Raised(a) => ("alert.raised", a),
                Change::Cleared(a) => ("alert.cleared", a),
            };
            tracing::info!(code = %alert.code, message = %alert.message, "{kind}");
            self.events.emit(Event::new(
                kind,
                serde_json::to_value(alert).unwrap_or_default(),
            ));
        }
        if !changes.is_empty() {
            self.changed.send_modify(|n| *n += 1);
        }
        Ok(())
    }
}

async fn storage_status(store: &Store) -> Result<StorageStatus, StoreError> {
    let since = Utc::now() - chrono::Duration::hours(24);
    let (d, media) = store
        .read(move |db| Ok((db.deletions_since(since)?, db.media_bytes_since(since)?)))
        .await?;
    Ok(StorageStatus::from_store(d, media))
}

impl StorageStatus {
    fn from_store(d: crate::store::DeletionCounts, media: i64) -> StorageStatus {
        StorageStatus {
            deleted_24h: d.deleted,
            deleted_bytes_24h: d.deleted_bytes,
            data_loss_24h: d.data_loss,
            media_written_24h_bytes: media,
            written_per_day_bytes: media,
            ..Default::default()
        }
    }
}

/// Looks at the device every few seconds and raises or clears alerts.
pub async fn monitor(health: Health, cancel: CancellationToken) -> Result<(), StoreError> {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => health.check_alerts().await?,
        }
    }
}

/// The status when no daemon is running: cameras are stopped or disabled, history from the
/// store.
pub fn offline_status(cfg: &Config, store: &Store) -> Result<Status, StoreError> {
    let summaries = store.blocking_read(|db| db.camera_summaries())?;
    let now = Utc::now();
    let pending = if cfg.upload.destination != Destination::None {
        Some(store.blocking_read(move |db| db.queue_summary(now))?)
    } else {
        None
    };
    let live = initial_cameras(cfg, CameraState::Stopped);
    let since = Utc::now() - chrono::Duration::hours(24);
    let (d, media) = store
        .blocking_read(move |db| Ok((db.deletions_since(since)?, db.media_bytes_since(since)?)))?;
    let mut status = assemble(
        &cfg.device.id,
        &cfg.device.data_dir,
        "store",
        &live,
        summaries,
        pending,
        cfg.relay.enabled,
    );
    status.storage = StorageStatus::from_store(d, media);
    let relay = store.blocking_read(|db| db.relay_progress())?;
    (status.relay.sent, status.relay.failed) = (relay.sent, relay.failed);
    Ok(status)
}

fn assemble(
    device_id: &str,
    data_dir: &Path,
    source: &str,
    live: &BTreeMap<String, CameraLive>,
    mut summaries: BTreeMap<String, CameraSummary>,
    pending: Option<QueueSummary>,
    relay_enabled: bool,
) -> Status {
    let cameras = live
        .iter()
        .map(|(name, l)| {
            let s = summaries.remove(name).unwrap_or_default();
            let st = CameraStatus {
                state: l.state,
                fps: l.fps,
                bitrate_kbps: l.bitrate_kbps,
                frame_loss_percent: l.frame_loss_percent,
                restarts: l.restarts,
                segments: s.segments,
                bytes: s.bytes,
                last_segment_end: s.last_segment_end,
            };
            (name.clone(), st)
        })
        .collect();
    let queue = pending.map_or_else(QueueStatus::default, |q| QueueStatus {
        pending: q.pending,
        pending_bytes: q.pending_bytes,
        oldest_pending_age_s: q
            .oldest_pending
            .map(|t| (Utc::now() - t).num_seconds().max(0)),
        uploading: q.uploading,
        failed: q.failed,
        uploaded_24h: q.uploaded_24h,
    });
    let relay = RelayStatus {
        state: if relay_enabled { "stopped" } else { "disabled" }.to_string(),
        current_file: None,
        pending: 0,
        sent: 0,
        failed: 0,
    };
    Status {
        device_id: device_id.to_string(),
        version: crate::VERSION.to_string(),
        source: source.to_string(),
        uptime_s: None,
        cpu_percent: None,
        mem_used_bytes: None,
        mem_total_bytes: None,
        temperature_c: None,
        disk: disk_status(data_dir),
        cameras,
        queue,
        relay,
        storage: StorageStatus::default(),
        alerts: Vec::new(),
    }
}

pub fn disk_status(path: &Path) -> Option<DiskStatus> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frag = st.fragment_size() as u64;
    let total = st.blocks() as u64 * frag;
    let free = st.blocks_available() as u64 * frag;
    let used = total.saturating_sub(st.blocks_free() as u64 * frag);
    // Like df: used over what non-root users can reach.
    let denom = used + free;
    let used_percent = if denom == 0 {
        0.0
    } else {
        (used as f64 * 1000.0 / denom as f64).round() / 10.0
    };
    Some(DiskStatus {
        path: path.to_path_buf(),
        total_bytes: total,
        free_bytes: free,
        used_bytes: used,
        used_percent,
    })
}
