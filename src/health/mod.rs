//! The device's state as one JSON-able snapshot: what `camvault status` prints, what the
//! control socket's `status` command answers, and what MQTT's retained `state` topic carries
//! (every field DESIGN.md lists). Components publish their live state into [`Health`] and
//! their events through it; the store supplies history; [`monitor`] turns observations into
//! alerts.

pub mod alerts;
pub mod board;
pub mod events;
mod gaps;
mod ota;
mod status;
mod system;
mod wear;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::base::{Bus, SharedClock};
use crate::config::{Config, Destination};
use crate::store::{Store, StoreError};
pub use alerts::{Alert, AlertCode};
use alerts::{Alerts, Change, Observation, Thresholds};
pub use events::{DeviceEvent, Event, MediaReady};
pub use ota::{OtaPhase, OtaStatus};
pub use status::{
    CameraLive, CameraState, CameraStatus, DiskStatus, QueueStatus, RelayState, RelayStatus,
    Status, StorageStatus, disk_status, offline_status,
};
use status::{StoreFacts, assemble, initial_cameras};
use system::SystemMetrics;

/// Live state shared between the components and whoever asks for a status. Its locks are
/// `parking_lot`'s: they do not poison, so one panicking task cannot blank the status for
/// ever, and none is held across an `.await`.
#[derive(Clone)]
pub struct Health {
    device_id: String,
    data_dir: PathBuf,
    uploads: bool,
    relay_enabled: bool,
    thresholds: (f64, f64),
    started: Instant,
    clock: SharedClock,
    cameras: Arc<Mutex<BTreeMap<String, CameraLive>>>,
    system: Arc<Mutex<SystemMetrics>>,
    alerts: Arc<Mutex<Alerts>>,
    /// Server time minus ours (ms), shared with the uploader's signer.
    clock_offset_ms: Arc<AtomicI64>,
    /// When an upload last finished (or the daemon started).
    upload_progress: Arc<Mutex<Instant>>,
    /// Upload attempts that failed since start (the metrics' counter).
    upload_failures: Arc<AtomicU64>,
    recording_paused: Arc<AtomicBool>,
    config_rejected: Arc<Mutex<Option<String>>>,
    relay: Arc<Mutex<Option<RelayStatus>>>,
    wear: Arc<Mutex<wear::WearMeter>>,
    /// MQTT is connected and has said `online` (the OTA commit gate waits for it).
    mqtt_online: watch::Sender<bool>,
    /// Where an update stands (the retained `ota` topic); `None` off the image.
    ota: watch::Sender<Option<OtaStatus>>,
    /// Bumped on every camera state change and alert change: "publish the state now".
    changed: watch::Sender<u64>,
    events: Bus<Event>,
    store: Store,
}

impl Health {
    pub fn new(cfg: &Config, store: Store, clock: SharedClock) -> Health {
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
            clock,
            cameras: Arc::new(Mutex::new(initial_cameras(cfg, CameraState::Starting))),
            system: Arc::new(Mutex::new(SystemMetrics::new())),
            alerts: Arc::new(Mutex::new(Alerts::default())),
            clock_offset_ms: Arc::new(AtomicI64::new(0)),
            upload_progress: Arc::new(Mutex::new(Instant::now())),
            upload_failures: Default::default(),
            recording_paused: Default::default(),
            config_rejected: Default::default(),
            relay: Default::default(),
            wear: Default::default(),
            mqtt_online: watch::channel(false).0,
            ota: watch::channel(None).0,
            changed: watch::channel(0).0,
            events: Bus::default(),
            store,
        }
    }

    /// The store the status is read from (the metrics' lifetime totals).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn data_dir(&self) -> crate::base::DataDir {
        crate::base::DataDir::new(&self.data_dir)
    }

    pub fn set_mqtt_online(&self, online: bool) {
        self.mqtt_online.send_replace(online);
    }

    pub fn mqtt_online(&self) -> watch::Receiver<bool> {
        self.mqtt_online.subscribe()
    }

    pub fn set_ota(&self, status: OtaStatus) {
        self.ota.send_replace(Some(status));
    }

    pub fn ota(&self) -> watch::Receiver<Option<OtaStatus>> {
        self.ota.subscribe()
    }

    /// A config the user put on the card was refused at boot (raises `config_rejected`).
    pub fn set_config_rejected(&self, why: Option<String>) {
        *self.config_rejected.lock() = why;
    }

    /// The daemon's wall clock: everything that stamps or compares times asks it.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Stamps `event` and sends it to every follower (MQTT's `event` topic among them).
    pub fn emit(&self, event: DeviceEvent) {
        tracing::debug!(event = event.name(), "event");
        self.events.send(Event {
            event,
            at: self.clock.now(),
        });
    }

    pub fn events(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The clock offset the uploader learns from the storage server.
    pub fn clock_offset(&self) -> Arc<AtomicI64> {
        self.clock_offset_ms.clone()
    }

    /// An upload finished: the queue is moving.
    pub fn upload_progressed(&self) {
        *self.upload_progress.lock() = Instant::now();
    }

    /// An upload attempt failed (it may be retried).
    pub fn upload_attempt_failed(&self) {
        self.upload_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn upload_failures(&self) -> u64 {
        self.upload_failures.load(Ordering::Relaxed)
    }

    /// Retention paused (or resumed) recording for lack of space.
    pub fn set_recording_paused(&self, paused: bool) {
        self.recording_paused.store(paused, Ordering::Relaxed);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The relay's state, as it changes.
    pub fn set_relay(&self, status: RelayStatus) {
        *self.relay.lock() = Some(status);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Resolves whenever something worth publishing at once has changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Called by a camera's recorder whenever its state or figures change.
    pub fn set_camera(&self, name: &str, live: CameraLive) {
        let state = live.state;
        let previous = self.cameras.lock().insert(name.to_string(), live);
        if previous.is_none_or(|p| p.state != state) {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// What one camera does now.
    pub fn camera_state(&self, name: &str) -> Option<CameraState> {
        self.cameras.lock().get(name).map(|c| c.state)
    }

    pub async fn status(&self) -> Result<Status, StoreError> {
        let now = self.now();
        let uploads = self.uploads;
        let facts = self
            .store
            .read(move |db| StoreFacts::read(db, now, uploads))
            .await?;
        let live = self.cameras.lock().clone();
        let mut status = assemble(
            &self.device_id,
            &self.data_dir,
            "daemon",
            &live,
            facts,
            self.relay_enabled,
            now,
        );
        status.uptime_s = Some(self.started.elapsed().as_secs());
        let sample = self.system.lock().sample();
        status.cpu_percent = Some(sample.cpu_percent);
        status.mem_used_bytes = Some(sample.mem_used_bytes);
        status.mem_total_bytes = Some(sample.mem_total_bytes);
        status.temperature_c = sample.temperature_c;
        status.alerts = self.alerts.lock().active();
        if let Some(relay) = self.relay.lock().clone() {
            status.relay = relay;
        }
        status.storage.recording_paused = self.recording_paused.load(Ordering::Relaxed);
        let store_rate = wear::own_write_bytes()
            .and_then(|b| self.wear.lock().per_day(std::time::Instant::now(), b));
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
        let since = self.upload_progress.lock().elapsed().as_secs() as i64;
        if !waiting {
            // Nothing to do is not a stall: restart the clock.
            self.upload_progressed();
        }
        let obs = Observation {
            disk_used_percent: status.disk.map(|d| d.used_percent),
            clock_offset_s: self.clock_offset_ms.load(Ordering::Relaxed) / 1000,
            uploads_waiting: waiting,
            since_upload_progress_s: since,
            uploads_failed: status.queue.failed,
            cameras,
            config_rejected: self.config_rejected.lock().clone(),
        };
        let th = Thresholds {
            disk_warn: self.thresholds.0,
            disk_critical: self.thresholds.1,
        };
        let now = self.now();
        let changes = self.alerts.lock().observe(&obs, &th, now);
        for change in &changes {
            let event = match change {
                Change::Raised(a) => DeviceEvent::AlertRaised(a.clone()),
                Change::Cleared(a) => DeviceEvent::AlertCleared(a.clone()),
            };
            if let DeviceEvent::AlertRaised(a) | DeviceEvent::AlertCleared(a) = &event {
                tracing::info!(code = %a.code, message = %a.message, "{}", event.name());
            }
            self.emit(event);
        }
        if !changes.is_empty() {
            self.changed.send_modify(|n| *n += 1);
        }
        Ok(())
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
