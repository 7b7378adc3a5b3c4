//! The status snapshot's types, and how it is assembled from live state and the store (one
//! way for the running daemon and for `status` without one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::alerts::Alert;
use crate::config::{Config, Destination};
use crate::store::{CameraSummary, Covered, Db, DeletionCounts, QueueSummary, Store, StoreError};

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

impl CameraState {
    pub const ALL: [CameraState; 5] = [
        CameraState::Starting,
        CameraState::Recording,
        CameraState::Backoff,
        CameraState::Stopped,
        CameraState::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Starting => "starting",
            CameraState::Recording => "recording",
            CameraState::Backoff => "backoff",
            CameraState::Stopped => "stopped",
            CameraState::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CameraStatus {
    /// What the camera does now.
    pub state: CameraState,
    /// The record switch: whether the camera should record (config `enabled` and the last
    /// `record` command, kept across restarts). `state` says whether it does.
    pub record: bool,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub frame_loss_percent: f64,
    pub restarts: u64,
    pub segments: i64,
    pub bytes: i64,
    pub last_segment_end: Option<DateTime<Utc>>,
    /// Seconds of the last 24 hours without footage (since the camera was added, if later).
    #[serde(default)]
    pub missing_seconds_24h: i64,
    /// The segment being written, relative to data_dir.
    pub current_file: Option<String>,
    /// Why a camera that should record does not (its device is unplugged, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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

/// `state.relay.state` in the MQTT contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayState {
    #[default]
    Disabled,
    Stopped,
    Idle,
    Waiting,
    Streaming,
    Reconnecting,
}

impl std::fmt::Display for RelayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RelayState {
    pub const ALL: [RelayState; 6] = [
        RelayState::Disabled,
        RelayState::Stopped,
        RelayState::Idle,
        RelayState::Waiting,
        RelayState::Streaming,
        RelayState::Reconnecting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RelayState::Disabled => "disabled",
            RelayState::Stopped => "stopped",
            RelayState::Idle => "idle",
            RelayState::Waiting => "waiting",
            RelayState::Streaming => "streaming",
            RelayState::Reconnecting => "reconnecting",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelayStatus {
    pub state: RelayState,
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
#[derive(Debug, Clone)]
pub struct CameraLive {
    pub state: CameraState,
    pub restarts: u64,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub frame_loss_percent: f64,
    /// Relative to data_dir.
    pub current_file: Option<String>,
    /// When the segment being written began.
    pub open_since: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

impl CameraLive {
    pub fn idle(state: CameraState) -> CameraLive {
        CameraLive {
            state,
            restarts: 0,
            fps: 0.0,
            bitrate_kbps: 0.0,
            frame_loss_percent: 0.0,
            current_file: None,
            open_since: None,
            reason: None,
        }
    }
}

/// What the status takes from the store, read in one go on the store's thread.
pub(super) struct StoreFacts {
    summaries: BTreeMap<String, CameraSummary>,
    /// Record switches that were set (camera → on).
    wanted: BTreeMap<String, bool>,
    pending: Option<QueueSummary>,
    deletions: DeletionCounts,
    media_bytes_24h: i64,
    covered: BTreeMap<String, Covered>,
}

impl StoreFacts {
    pub(super) fn read(db: &Db, now: DateTime<Utc>, uploads: bool) -> Result<Self, StoreError> {
        let since = now - chrono::Duration::hours(24);
        Ok(StoreFacts {
            summaries: db.camera_summaries()?,
            wanted: db.wanted()?,
            pending: if uploads {
                Some(db.queue_summary(now)?)
            } else {
                None
            },
            deletions: db.deletions_since(since)?,
            media_bytes_24h: db.media_bytes_since(since)?,
            covered: db.footage_covered(now - super::gaps::window(), now)?,
        })
    }
}

pub(super) fn initial_cameras(
    cfg: &Config,
    enabled_state: CameraState,
) -> BTreeMap<String, CameraLive> {
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

/// The status when no daemon is running: cameras are stopped or disabled, history from the
/// store.
pub fn offline_status(
    cfg: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Status, StoreError> {
    let uploads = cfg.upload.destination != Destination::None;
    let facts = store.blocking_read(move |db| StoreFacts::read(db, now, uploads))?;
    let live = initial_cameras(cfg, CameraState::Stopped);
    let mut status = assemble(
        &cfg.device.id,
        &cfg.device.data_dir,
        "store",
        &live,
        facts,
        cfg.relay.enabled,
        now,
    );
    let relay = store.blocking_read(|db| db.relay_progress())?;
    (status.relay.sent, status.relay.failed) = (relay.sent, relay.failed);
    Ok(status)
}

pub(super) fn assemble(
    device_id: &str,
    data_dir: &Path,
    source: &str,
    live: &BTreeMap<String, CameraLive>,
    facts: StoreFacts,
    relay_enabled: bool,
    now: DateTime<Utc>,
) -> Status {
    let StoreFacts {
        mut summaries,
        wanted,
        pending,
        deletions,
        media_bytes_24h,
        covered,
    } = facts;
    let cameras = live
        .iter()
        .map(|(name, l)| {
            let s = summaries.remove(name).unwrap_or_default();
            let st = CameraStatus {
                state: l.state,
                // A camera disabled in the config has no switch to turn on.
                record: l.state != CameraState::Disabled
                    && wanted.get(name).copied().unwrap_or(true),
                fps: l.fps,
                bitrate_kbps: l.bitrate_kbps,
                frame_loss_percent: l.frame_loss_percent,
                restarts: l.restarts,
                segments: s.segments,
                bytes: s.bytes,
                last_segment_end: s.last_segment_end,
                missing_seconds_24h: covered
                    .get(name)
                    .map_or(0, |c| super::gaps::missing_ms(*c, l.open_since, now) / 1000),
                current_file: l.current_file.clone(),
                reason: l.reason.clone(),
            };
            (name.clone(), st)
        })
        .collect();
    let queue = pending.map_or_else(QueueStatus::default, |q| QueueStatus {
        pending: q.pending,
        pending_bytes: q.pending_bytes,
        oldest_pending_age_s: q.oldest_pending.map(|t| (now - t).num_seconds().max(0)),
        uploading: q.uploading,
        failed: q.failed,
        uploaded_24h: q.uploaded_24h,
    });
    let relay = RelayStatus {
        state: if relay_enabled {
            RelayState::Stopped
        } else {
            RelayState::Disabled
        },
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
        storage: StorageStatus {
            deleted_24h: deletions.deleted,
            deleted_bytes_24h: deletions.deleted_bytes,
            data_loss_24h: deletions.data_loss,
            media_written_24h_bytes: media_bytes_24h,
            written_per_day_bytes: media_bytes_24h,
            ..Default::default()
        },
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
