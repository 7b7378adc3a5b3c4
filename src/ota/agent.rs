//! The update as the daemon runs it: `cmd/ota` (or Home Assistant's install, which uses the
//! last `ota/latest` offer) downloads, verifies and installs a bundle, then asks for a reboot;
//! the next start decides from the record in `data/ota/` what to do ([`pending::on_boot`]),
//! and on the new slot runs the commit gate against the baseline taken before the update.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::gate::{Baseline, Check, Gate, Verdict};
use super::pending::{self, Ending, OnBoot, Pending, Stage};
use super::{HighestEpoch, OtaError, rauc};
use crate::base::{DataDir, Tasks};
use crate::config::{Config, Destination};
use crate::health::{CameraState, DeviceEvent, Health, OtaPhase, OtaStatus};

/// RAUC's configuration: present on the image, absent on a developer's machine.
pub const SYSTEM_CONF: &str = "/etc/rauc/system.conf";

/// An update on offer: the command's arguments, or a retained `ota/latest` announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub version: String,
    pub url: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_url: Option<String>,
}

impl Offer {
    /// The same rules as the command's: an http(s) URL and a SHA-256 in hex (it names the
    /// file in `data/ota/`).
    pub fn validate(&self) -> Result<(), OtaError> {
        let bad = |why: &str| Err(OtaError::Manifest(format!("the offer: {why}")));
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return bad("`url` must be http(s)://");
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return bad("`sha256` must be 64 hex digits");
        }
        if self.version.is_empty()
            || self.version.len() > 64
            || self.version.chars().any(char::is_control)
        {
            return bad("`version` must be 1 to 64 printable characters");
        }
        Ok(())
    }
}

struct Settings {
    keyring: PathBuf,
    allow_downgrade: bool,
    commit_timeout: Duration,
    system_conf: PathBuf,
    data: DataDir,
    cameras: Vec<String>,
    uploads: bool,
    mqtt: bool,
}

struct Inner {
    s: Settings,
    health: Health,
    http: reqwest::Client,
    /// Held from the command until the reboot is asked for: one update at a time.
    busy: Arc<tokio::sync::Mutex<()>>,
    latest: Mutex<Option<Offer>>,
    status: Mutex<OtaStatus>,
}

#[derive(Clone)]
pub struct OtaHandle(Arc<Inner>);

/// The OTA component, on a device with RAUC; `None` elsewhere (the command then says so).
pub fn spawn(cfg: &Config, health: Health, tasks: &mut Tasks) -> Option<OtaHandle> {
    spawn_with(cfg, health, tasks, PathBuf::from(SYSTEM_CONF))
}

fn spawn_with(
    cfg: &Config,
    health: Health,
    tasks: &mut Tasks,
    system_conf: PathBuf,
) -> Option<OtaHandle> {
    if !system_conf.exists() {
        return None;
    }
    let http =
        match crate::base::http::client(cfg.upload.ca_file.as_deref(), Duration::from_secs(60)) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "ota: no HTTP client; updates are off");
                return None;
            }
        };
    let installed = rauc::installed_version();
    let status = OtaStatus::idle(&installed);
    health.set_ota(status.clone());
    let h = OtaHandle(Arc::new(Inner {
        s: Settings {
            keyring: cfg.ota.keyring.clone(),
            allow_downgrade: cfg.ota.allow_downgrade,
            commit_timeout: Duration::from_secs(u64::from(cfg.ota.commit_timeout_minutes) * 60),
            system_conf,
            data: DataDir::new(&cfg.device.data_dir),
            cameras: cfg
                .cameras
                .iter()
                .filter(|c| c.enabled)
                .map(|c| c.name.clone())
                .collect(),
            uploads: cfg.upload.destination != Destination::None,
            mqtt: cfg.mqtt.url.is_some(),
        },
        health,
        http,
        busy: Default::default(),
        latest: Mutex::new(None),
        status: Mutex::new(status),
    }));
    let me = h.clone();
    tasks.spawn_supervised("ota boot", move |tok| {
        let me = me.clone();
        async move { me.on_boot(tok).await }
    });
    Some(h)
}

impl OtaHandle {
    /// A retained `ota/latest` announcement: Home Assistant shows it as the latest version.
    pub fn announce(&self, offer: Offer) -> Result<(), OtaError> {
        offer.validate()?;
        self.show_offer(&offer);
        *self.0.latest.lock() = Some(offer);
        Ok(())
    }

    /// `cmd/ota`: the reply comes once the bundle is downloaded, verified and accepted (or
    /// refused); RAUC's install and the reboot follow, reported by events and the `ota` topic.
    pub async fn start(&self, offer: Option<Offer>) -> Result<Value, OtaError> {
        let Ok(guard) = self.0.busy.clone().try_lock_owned() else {
            return Err(OtaError::Busy);
        };
        let offer = match offer.or_else(|| self.0.latest.lock().clone()) {
            Some(o) => o,
            None => return Err(OtaError::NoOffer),
        };
        let manifest = match self.fetch_and_check(&offer).await {
            Ok(m) => m,
            Err(e) => {
                let reason = e.to_string();
                let (phase, event) = match &e {
                    OtaError::Download(_) | OtaError::Io(_) => (
                        OtaPhase::Failed,
                        DeviceEvent::OtaFailed {
                            version: offer.version.clone(),
                            error: reason.clone(),
                        },
                    ),
                    _ => (
                        OtaPhase::Refused,
                        DeviceEvent::OtaRefused {
                            version: offer.version.clone(),
                            reason: reason.clone(),
                        },
                    ),
                };
                tracing::warn!(version = %offer.version, reason = %reason, "ota: not installed");
                self.phase(phase, None, Some(reason));
                self.0.health.emit(event);
                return Err(e);
            }
        };
        let me = self.clone();
        let (version, bundle) = (offer.version.clone(), manifest.1);
        tokio::spawn(async move {
            me.install(&version, bundle, manifest.0.security_epoch)
                .await;
            drop(guard);
        });
        Ok(json!({ "accepted": true, "version": offer.version, "state": "installing" }))
    }

    async fn fetch_and_check(&self, offer: &Offer) -> Result<(super::Manifest, PathBuf), OtaError> {
        self.show_offer(offer);
        self.phase(OtaPhase::Downloading, Some(0), None);
        let dir = self.0.s.data.ota();
        let mut last = 0u8;
        let data_root = self.0.s.data.root().to_path_buf();
        let (path, fetched) = super::download::fetch(
            &self.0.http,
            &offer.url,
            &offer.sha256,
            &dir,
            |n| room_for(&data_root, n),
            |done, total| {
                let pct = (done * 100).checked_div(total).unwrap_or(100) as u8;
                if pct >= last.saturating_add(5) || (pct == 100 && last != 100) {
                    last = pct;
                    self.progress(&offer.version, OtaPhase::Downloading, pct);
                }
            },
        )
        .await?;
        tracing::info!(
            bytes = fetched.bytes,
            resumed_from = fetched.resumed_from,
            "ota: downloaded"
        );
        let (keyring, conf, epoch) = (
            self.0.s.keyring.clone(),
            self.0.s.system_conf.clone(),
            HighestEpoch(self.0.s.data.ota_epoch()),
        );
        let (allow, p) = (self.0.s.allow_downgrade, path.clone());
        let wanted = offer.version.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let m = super::verify(&p, &keyring)?;
            let bare = m.version.split('+').next().unwrap_or_default();
            if bare != wanted.split('+').next().unwrap_or_default() {
                return Err(OtaError::Manifest(format!(
                    "the bundle is version {}, the command said {wanted}",
                    m.version
                )));
            }
            let running = super::running(&conf, &epoch)?;
            super::check(&m, &running, allow)?;
            Ok(m)
        })
        .await
        .map_err(|e| OtaError::Io(std::io::Error::other(e.to_string())))?;
        match checked {
            Ok(m) => Ok((m, path)),
            Err(e) => {
                // A bundle this device refuses is no use on the card.
                let _ = tokio::fs::remove_file(&path).await;
                Err(e)
            }
        }
    }

    async fn install(&self, version: &str, bundle: PathBuf, epoch: u32) {
        let p = Pending {
            baseline: self.baseline(version, epoch).await,
            from_slot: rauc::booted_slot().unwrap_or_default(),
            boot_id: rauc::boot_id(),
            commit_timeout_s: self.0.s.commit_timeout.as_secs(),
            stage: Stage::Installing,
        };
        self.phase(OtaPhase::Installing, None, None);
        self.progress(version, OtaPhase::Installing, 0);
        let path = self.0.s.data.ota_pending();
        let (b, record) = (bundle.clone(), p.clone());
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            pending::save(&path, &record)?;
            rauc::install(&b)?;
            pending::save(
                &path,
                &Pending {
                    stage: Stage::Installed,
                    ..record
                },
            )
        })
        .await
        .unwrap_or_else(|e| Err(OtaError::Io(std::io::Error::other(e.to_string()))));
        let _ = tokio::fs::remove_file(&bundle).await;
        match result {
            Ok(()) => {
                tracing::info!(
                    version,
                    seconds = started.elapsed().as_secs(),
                    "ota: installed; rebooting"
                );
                self.phase(OtaPhase::Rebooting, None, None);
                self.progress(version, OtaPhase::Rebooting, 100);
                request_reboot(&self.0.s.data).await;
            }
            Err(e) => {
                tracing::warn!(version, error = %e, "ota: install failed; the running slot is kept");
                let _ = pending::remove(&self.0.s.data.ota_pending());
                self.phase(OtaPhase::Failed, None, Some(e.to_string()));
                self.0.health.emit(DeviceEvent::OtaFailed {
                    version: version.to_string(),
                    error: e.to_string(),
                });
            }
        }
    }

    /// What must work again after the update: what works now.
    async fn baseline(&self, version: &str, epoch: u32) -> Baseline {
        let h = &self.0.health;
        let cameras = self
            .0
            .s
            .cameras
            .iter()
            .filter(|c| h.camera_state(c) == Some(CameraState::Recording))
            .cloned()
            .collect();
        let uploads = self.0.s.uploads
            && h.status()
                .await
                .map(|s| s.queue.uploaded_24h > 0)
                .unwrap_or(false);
        Baseline {
            from_version: rauc::installed_version(),
            to_version: version.to_string(),
            epoch,
            cameras,
            mqtt: self.0.s.mqtt && *h.mqtt_online().borrow(),
            uploads,
        }
    }

    async fn on_boot(self, cancel: CancellationToken) -> Result<(), OtaError> {
        let path = self.0.s.data.ota_pending();
        let p = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || pending::load(&path))
                .await
                .unwrap_or(Ok(None))?
        };
        let slot = rauc::booted_slot().unwrap_or_default();
        let decision = pending::on_boot(p.as_ref(), &slot, &rauc::boot_id());
        tracing::info!(?decision, slot, "ota: start-up");
        match (decision, p) {
            (OnBoot::MarkGood, _) => blocking(rauc::mark_good).await?,
            (OnBoot::RebootAgain, _) => request_reboot(&self.0.s.data).await,
            (OnBoot::RollBackAgain, _) => {
                blocking(rauc::mark_bad).await?;
                request_reboot(&self.0.s.data).await;
            }
            (OnBoot::Ended(ending), Some(p)) => self.ended(ending, &p).await?,
            (OnBoot::Gate, Some(p)) => self.gate(p, cancel.clone()).await?,
            (_, None) => {}
        }
        // Done for this start. Returning would have the supervisor run it again (as it does
        // after an error, which is how a failed mark-good is retried).
        cancel.cancelled().await;
        Ok(())
    }

    async fn ended(&self, ending: Ending, p: &Pending) -> Result<(), OtaError> {
        let version = p.baseline.to_version.clone();
        let (phase, event, reason) = match ending {
            Ending::InstallInterrupted => {
                let why = "the install was interrupted; the running slot is kept".to_string();
                let e = DeviceEvent::OtaFailed {
                    version,
                    error: why.clone(),
                };
                (OtaPhase::Failed, e, why)
            }
            Ending::RolledBack(failed) => {
                let why = failed.join("; ");
                let e = DeviceEvent::OtaRolledBack {
                    version,
                    running: rauc::installed_version(),
                    failed,
                };
                (OtaPhase::RolledBack, e, why)
            }
            Ending::NeverHealthy => {
                let why =
                    "the new slot never came up healthy (U-Boot used up its tries)".to_string();
                let e = DeviceEvent::OtaRolledBack {
                    version,
                    running: rauc::installed_version(),
                    failed: vec![why.clone()],
                };
                (OtaPhase::RolledBack, e, why)
            }
        };
        tracing::warn!(reason = %reason, "ota: update not kept");
        self.phase(phase, None, Some(reason));
        self.0.health.emit(event);
        let path = self.0.s.data.ota_pending();
        blocking(move || pending::remove(&path)).await?;
        blocking(rauc::mark_good).await
    }

    /// On the new slot: commit once everything that worked before works again, or roll
    /// back when the timeout comes first.
    async fn gate(&self, p: Pending, cancel: CancellationToken) -> Result<(), OtaError> {
        self.phase(OtaPhase::Verifying, None, None);
        let h = &self.0.health;
        let timeout = chrono::Duration::from_std(self.0.s.commit_timeout).unwrap_or_default();
        let mut gate = Gate::new(&p.baseline, h.now(), timeout);
        // The daemon opened the store and wrote the cameras' rows before any task started.
        gate.passed(&Check::Store);
        let mut events = h.events();
        let mut online = h.mqtt_online();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let verdict = loop {
            if *online.borrow_and_update() {
                gate.passed(&Check::Mqtt);
            }
            match gate.verdict(h.now()) {
                Verdict::Waiting(_) => {}
                v => break v,
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
                _ = online.changed() => {}
                ev = events.recv() => if let Ok(ev) = ev {
                    match ev.event {
                        DeviceEvent::SegmentClosed { camera, .. } => gate.passed(&Check::Camera(camera)),
                        DeviceEvent::UploadDone { .. } => gate.passed(&Check::Upload),
                        _ => {}
                    }
                },
            }
        };
        let path = self.0.s.data.ota_pending();
        match verdict {
            Verdict::Commit => {
                let epoch = HighestEpoch(self.0.s.data.ota_epoch());
                let e = p.baseline.epoch;
                blocking(move || {
                    rauc::mark_good()?;
                    if e > epoch.read()? {
                        epoch.write(e)?;
                    }
                    pending::remove(&path)
                })
                .await?;
                tracing::info!(version = %p.baseline.to_version, "ota: committed");
                let mut st = self.0.status.lock().clone();
                st.installed_version = p.baseline.to_version.clone();
                self.publish(st.with(OtaPhase::Committed, None, None));
                h.emit(DeviceEvent::OtaCommitted {
                    version: p.baseline.to_version.clone(),
                    from: p.baseline.from_version.clone(),
                });
            }
            Verdict::RollBack(failed) | Verdict::Waiting(failed) => {
                let failed: Vec<String> = failed.iter().map(ToString::to_string).collect();
                tracing::warn!(?failed, "ota: the new slot failed its checks; rolling back");
                self.phase(OtaPhase::Rebooting, None, Some(failed.join("; ")));
                let record = Pending {
                    stage: Stage::RollingBack { failed },
                    ..p
                };
                blocking(move || {
                    pending::save(&path, &record)?;
                    rauc::mark_bad()
                })
                .await?;
                request_reboot(&self.0.s.data).await;
            }
        }
        Ok(())
    }

    /// The offered version (and its release notes' URL) as Home Assistant's latest.
    fn show_offer(&self, offer: &Offer) {
        let mut st = self.0.status.lock().clone();
        st.latest_version = offer.version.clone();
        st.release_url = offer.release_url.clone();
        self.publish(st);
    }

    fn progress(&self, version: &str, stage: OtaPhase, percent: u8) {
        if stage == OtaPhase::Downloading {
            self.phase(stage, Some(percent), None);
        }
        self.0.health.emit(DeviceEvent::OtaProgress {
            version: version.to_string(),
            stage,
            percent,
        });
    }

    fn phase(&self, state: OtaPhase, percent: Option<u8>, reason: Option<String>) {
        let st = self.0.status.lock().with(state, percent, reason);
        self.publish(st);
    }

    fn publish(&self, st: OtaStatus) {
        *self.0.status.lock() = st.clone();
        self.0.health.set_ota(st);
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OtaError> + Send + 'static,
) -> Result<T, OtaError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OtaError::Io(std::io::Error::other(e.to_string())))?
}

/// Asks the root-owned `camvault-reboot.path` unit for a reboot: systemd then stops camvault
/// the ordinary way (every open segment is finished) and reboots. camvault itself may not
/// reboot (no capability, `@reboot` filtered).
pub async fn request_reboot(data: &DataDir) {
    let path = data.reboot_request();
    if let Err(e) = blocking(move || pending::write_durably(&path, b"ota\n")).await {
        tracing::warn!(error = %e, "ota: could not ask for a reboot");
    }
}

/// Whether `n` more bytes leave the card with at least a tenth of it free for recordings.
fn room_for(data_root: &std::path::Path, n: u64) -> bool {
    crate::health::disk_status(data_root)
        .is_none_or(|d| d.free_bytes.saturating_sub(n) >= d.total_bytes / 10)
}
