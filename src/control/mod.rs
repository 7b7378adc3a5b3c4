//! Commands from outside: the local unix socket and MQTT's `cmd/<name>` topics, one
//! [`Dispatcher`] for both.

mod client;
pub mod command;
mod server;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use client::{request, request_within};
pub use command::{
    Command, DEFAULT_POST_S, DEFAULT_PRE_S, ErrorKind, MAX_CLIP_SIDE_S, Reply, Request,
};
pub use server::{MAX_REQUEST_BYTES, bind, serve};

use crate::health::{DeviceEvent, Health, MediaReady};
use crate::ota::OtaHandle;
use crate::recorder::{MediaFile, RecorderHandle};
use crate::relay::RelayHandle;
use crate::store::MediaKind;
use crate::upload::UploaderHandle;
use command::{RelayAction, UploadAction};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another camvault daemon is already running on {}", .0.display())]
    AlreadyRunning(PathBuf),
    #[error("no daemon is listening on {}", .0.display())]
    NotRunning(PathBuf),
    #[error("the daemon's answer was not understood: {0}")]
    Protocol(String),
}

/// The control socket's place: `<data_dir>/camvault.sock`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    crate::base::DataDir::new(data_dir).socket()
}

/// Why a command was not carried out; the reply's `error` is its text.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The feature is switched off in the config; the text says which key turns it on.
    #[error("{0}")]
    Off(&'static str),
    #[error("unknown command `{0}`")]
    Unknown(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Time(#[from] crate::base::clock::BadTime),
    #[error(transparent)]
    Recorder(#[from] crate::recorder::RecorderError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Ota(#[from] crate::ota::OtaError),
}

impl CommandError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Unknown(_)
            | CommandError::Invalid(_)
            | CommandError::Time(_)
            | CommandError::Recorder(crate::recorder::RecorderError::UnknownCamera(_)) => {
                ErrorKind::Usage
            }
            CommandError::Off(_) => ErrorKind::Unavailable,
            CommandError::Ota(crate::ota::OtaError::Busy) => ErrorKind::Failed,
            CommandError::Ota(crate::ota::OtaError::NoOffer) => ErrorKind::Usage,
            CommandError::Recorder(_) | CommandError::Store(_) | CommandError::Ota(_) => {
                ErrorKind::Failed
            }
        }
    }
}

/// Routes each command to the component that serves it.
#[derive(Clone)]
pub struct Dispatcher {
    health: Health,
    recorder: RecorderHandle,
    uploader: Option<UploaderHandle>,
    relay: Option<RelayHandle>,
    ota: Option<OtaHandle>,
    discovery: crate::discovery::Discovery,
    allow_reboot: bool,
}

impl Dispatcher {
    pub fn new(
        health: Health,
        recorder: RecorderHandle,
        uploader: Option<UploaderHandle>,
        relay: Option<RelayHandle>,
        ota: Option<OtaHandle>,
        discovery: crate::discovery::Discovery,
        allow_reboot: bool,
    ) -> Self {
        Dispatcher {
            health,
            recorder,
            uploader,
            relay,
            ota,
            discovery,
            allow_reboot,
        }
    }

    pub async fn handle(&self, command: Command) -> Result<Value, CommandError> {
        match command {
            Command::Status => {
                let status = self.health.status().await?;
                Ok(serde_json::to_value(status).unwrap_or_default())
            }
            Command::Record(args) => {
                self.recorder
                    .set_enabled(&args.camera, args.enabled)
                    .await?;
                Ok(serde_json::json!({ "camera": args.camera, "enabled": args.enabled }))
            }
            Command::Upload(args) => {
                let up = self.uploader.as_ref().ok_or(CommandError::Off(
                    "uploads are off (upload.destination = \"none\")",
                ))?;
                match args.action {
                    UploadAction::Pause => up.set_paused(true),
                    UploadAction::Resume => up.set_paused(false),
                    UploadAction::RetryFailed => {
                        let n = up.retry_failed().await?;
                        return Ok(serde_json::json!({ "retrying": n }));
                    }
                }
                Ok(serde_json::json!({ "paused": up.is_paused() }))
            }
            Command::Snapshot(a) => {
                let f = self.recorder.snapshot(&a.camera).await?;
                let reason = a.reason.clone().unwrap_or_else(|| "manual".into());
                Ok(self.media_ready(f, Some(reason)))
            }
            Command::Clip(a) => {
                let now = self.health.now();
                let at = match &a.at {
                    Some(t) => crate::base::clock::parse_time(t, now)?,
                    None => now,
                };
                // A clip further ahead would hold its command slot until then.
                let ahead = chrono::Duration::seconds(MAX_CLIP_SIDE_S.into());
                if at > now + ahead {
                    return Err(CommandError::Invalid(format!(
                        "`at` is more than {MAX_CLIP_SIDE_S} s in the future"
                    )));
                }
                let pre = std::time::Duration::from_secs(a.pre_s.unwrap_or(DEFAULT_PRE_S).into());
                let post =
                    std::time::Duration::from_secs(a.post_s.unwrap_or(DEFAULT_POST_S).into());
                let f = self.recorder.clip(&a.camera, at, pre, post).await?;
                Ok(self.media_ready(f, None))
            }
            Command::Relay(args) => {
                let relay = self.relay.as_ref().ok_or(CommandError::Off(
                    "the relay is off (set [relay] enabled = true)",
                ))?;
                relay.set_running(args.action == RelayAction::Start);
                Ok(serde_json::json!({ "running": relay.is_running() }))
            }
            Command::Ota(a) => {
                let ota = self.ota.as_ref().ok_or(CommandError::Off(
                    "updates need the camvault image (RAUC's /etc/rauc/system.conf is missing)",
                ))?;
                let offer = a.offer().map_err(CommandError::Invalid)?;
                Ok(ota.start(offer).await?)
            }
            Command::Discover => {
                let found = self.discovery.discover().await;
                Ok(serde_json::to_value(found).unwrap_or_default())
            }
            Command::Reboot => {
                if !self.allow_reboot {
                    return Err(CommandError::Off(
                        "remote reboot is off (set device.allow_remote_reboot = true)",
                    ));
                }
                tracing::warn!("reboot requested by command");
                // On the image, root's `camvault-reboot.path` sees the request; elsewhere
                // systemctl does it when camvault's user may.
                crate::ota::request_reboot(&self.health.data_dir()).await;
                tokio::spawn(async {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    let _ = crate::media::process::command("systemctl")
                        .arg("reboot")
                        .status()
                        .await;
                });
                Ok(serde_json::json!({ "rebooting": true }))
            }
            Command::Unknown(name) => Err(CommandError::Unknown(name)),
        }
    }

    /// The OTA component, when this is a device that takes updates.
    pub fn ota(&self) -> Option<&OtaHandle> {
        self.ota.as_ref()
    }

    /// The reply and event for a new clip or snapshot: where it is, where it will be uploaded,
    /// and (S3) a presigned URL that works once `upload.done` names the key.
    fn media_ready(&self, f: MediaFile, reason: Option<String>) -> Value {
        let (key, url) = match &self.uploader {
            Some(u) => {
                let key = u.object_key(f.kind, &f.camera, f.start, &f.path);
                let url = u.presign(&key);
                u.wake();
                (Some(key), url)
            }
            None => (None, None),
        };
        let ready = MediaReady {
            duration_s: (f.end - f.start).num_milliseconds() as f64 / 1000.0,
            camera: f.camera,
            path: f.path,
            key,
            url,
            start: f.start,
            end: f.end,
            bytes: f.bytes,
            reason,
        };
        let reply = serde_json::to_value(&ready).unwrap_or_default();
        let event = match f.kind {
            MediaKind::Snapshot => DeviceEvent::SnapshotReady(ready),
            _ => DeviceEvent::ClipReady(ready),
        };
        tracing::info!(event = event.name(), "media ready");
        self.health.emit(event);
        reply
    }

    /// Decodes one request line and answers it; never fails, a bad request gets `ok: false`.
    pub async fn answer(&self, line: &[u8]) -> Reply {
        self.answer_request(Request::decode(line)).await
    }

    pub async fn answer_request(&self, req: Request) -> Reply {
        match req.command {
            Err(e) => Reply::usage(req.request_id, e),
            Ok(cmd) => match self.handle(cmd).await {
                Ok(result) => Reply::ok(req.request_id, result),
                Err(e) => Reply::refused(req.request_id, e.to_string(), e.kind()),
            },
        }
    }
}
