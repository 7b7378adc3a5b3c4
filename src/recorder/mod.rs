//! The recorder: one supervised ffmpeg per camera writing clock-aligned fragmented-MP4
//! segments; each closed segment is fsynced, recorded in the store, and announced on the
//! [`SegmentEvent`] channel (the `OnSegmentComplete` hook the uploader and MQTT listen to).

mod camera;
pub mod layout;
pub mod recovery;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tokio::sync::{OnceCell, broadcast, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::health::Health;
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
    pub data_dir: PathBuf,
    pub store: Store,
    pub health: Health,
    pub events: broadcast::Sender<SegmentEvent>,
    pub segment_seconds: u32,
    pub fragment_seconds: u32,
    test_clip: OnceCell<PathBuf>,
    auto_encoder: OnceCell<&'static str>,
}

impl Ctx {
    async fn test_clip(&self) -> Result<PathBuf, MediaError> {
        let cache = self.data_dir.join("cache");
        self.test_clip
            .get_or_try_init(|| crate::media::testsrc::ensure_clip(&cache))
            .await
            .cloned()
    }
}

impl Ctx {
    /// The `OnSegmentComplete` hook: the uploader's channel and the device event bus.
    fn announce(&self, seg: SegmentEvent) {
        let data = serde_json::json!({
            "camera": seg.camera, "path": seg.path, "start": seg.start, "end": seg.end, "bytes": seg.bytes,
        });
        self.health
            .events()
            .emit(crate::events::Event::new("segment.closed", data));
        let _ = self.events.send(seg);
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
}

impl RecorderHandle {
    pub fn set_enabled(&self, camera: &str, enabled: bool) -> Result<(), String> {
        let tx = self
            .enabled
            .get(camera)
            .ok_or_else(|| format!("no camera named `{camera}`"))?;
        tx.send_replace(enabled);
        Ok(())
    }

    /// Closed segments from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SegmentEvent> {
        self.events.subscribe()
    }
}

/// Spawns one task per configured camera into `tasks`.
pub fn spawn(
    cfg: &Config,
    store: Store,
    health: Health,
    cancel: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> RecorderHandle {
    let (events, _) = broadcast::channel(256);
    let ctx = std::sync::Arc::new(Ctx {
        data_dir: cfg.device.data_dir.clone(),
        store,
        health,
        events: events.clone(),
        segment_seconds: cfg.recording.segment_seconds,
        fragment_seconds: cfg.recording.fragment_seconds,
        test_clip: OnceCell::new(),
        auto_encoder: OnceCell::new(),
    });
    let mut enabled = BTreeMap::new();
    for cam in &cfg.cameras {
        let (tx, rx) = watch::channel(cam.enabled);
        enabled.insert(cam.name.clone(), tx);
        let task = camera::CameraTask::new(ctx.clone(), cam.clone());
        tasks.spawn(task.run(rx, cancel.child_token()));
    }
    RecorderHandle { enabled, events }
}
