//! The device's state as one JSON-able snapshot: what `camvault status` prints, what the
//! control socket's `status` command answers, and (later) what MQTT's `state` topic carries.
//! Components publish their live state into [`Health`]; the store supplies the history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::Config;
use crate::store::{CameraSummary, Store, StoreError};

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
    pub used_percent: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub device_id: String,
    pub version: String,
    /// `daemon` when the running daemon answered, `store` when read from the database.
    pub source: String,
    pub uptime_s: Option<u64>,
    pub disk: Option<DiskStatus>,
    pub cameras: BTreeMap<String, CameraStatus>,
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
    started: Instant,
    cameras: Arc<Mutex<BTreeMap<String, CameraLive>>>,
    store: Store,
}

impl Health {
    pub fn new(cfg: &Config, store: Store) -> Health {
        let cameras = cfg
            .cameras
            .iter()
            .map(|c| {
                // Until its recorder reports, a camera is starting (or disabled).
                let state = if c.enabled {
                    CameraState::Starting
                } else {
                    CameraState::Disabled
                };
                (c.name.clone(), CameraLive::idle(state))
            })
            .collect();
        Health {
            device_id: cfg.device.id.clone(),
            data_dir: cfg.device.data_dir.clone(),
            started: Instant::now(),
            cameras: Arc::new(Mutex::new(cameras)),
            store,
        }
    }

    /// Called by a camera's recorder whenever its state changes.
    pub fn set_camera(&self, name: &str, live: CameraLive) {
        if let Ok(mut cams) = self.cameras.lock() {
            cams.insert(name.to_string(), live);
        }
    }

    pub async fn status(&self) -> Result<Status, StoreError> {
        let summaries = self.store.read(|db| db.camera_summaries()).await?;
        let live = self.cameras.lock().map(|c| c.clone()).unwrap_or_default();
        let mut status = assemble(&self.device_id, &self.data_dir, "daemon", &live, summaries);
        status.uptime_s = Some(self.started.elapsed().as_secs());
        Ok(status)
    }
}

/// The status when no daemon is running: cameras are stopped or disabled, history from the
/// store.
pub fn offline_status(cfg: &Config, store: &Store) -> Result<Status, StoreError> {
    let summaries = store.blocking_read(|db| db.camera_summaries())?;
    let live = cfg
        .cameras
        .iter()
        .map(|c| {
            let state = if c.enabled {
                CameraState::Stopped
            } else {
                CameraState::Disabled
            };
            (c.name.clone(), CameraLive::idle(state))
        })
        .collect();
    Ok(assemble(
        &cfg.device.id,
        &cfg.device.data_dir,
        "store",
        &live,
        summaries,
    ))
}

fn assemble(
    device_id: &str,
    data_dir: &Path,
    source: &str,
    live: &BTreeMap<String, CameraLive>,
    mut summaries: BTreeMap<String, CameraSummary>,
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
    Status {
        device_id: device_id.to_string(),
        version: crate::VERSION.to_string(),
        source: source.to_string(),
        uptime_s: None,
        disk: disk_status(data_dir),
        cameras,
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
        used_percent,
    })
}
