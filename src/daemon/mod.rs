//! The daemon: opens the store, starts every component as a supervised task under one
//! cancellation token, wires their hooks, tells systemd, and shuts down cleanly on the first
//! SIGTERM/SIGINT (immediately on the second). It only wires: the components' logic lives in
//! their own folders.

mod notify;
pub mod preflight;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::base::tasks::infallible;
use crate::base::{DataDir, SharedClock, Tasks, clock};
use crate::config::{Config, SourceKind};
use crate::control::{self, ControlError, Dispatcher};
use crate::health::Health;
use crate::recorder::RecorderHandle;
use crate::store::{QueuePolicy, Store, StoreError, StoreOptions};
use crate::upload::S3Error;

/// How long components get to finish after the stop signal before we stop waiting.
const GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("uploader: {0}")]
    Upload(#[from] S3Error),
    #[error("signal handling: {0}")]
    Signals(std::io::Error),
    /// A setting this machine cannot honour (exit 2, like a config error).
    #[error(transparent)]
    Unusable(#[from] preflight::Unusable),
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Stopped,
    /// A found camera was added (`[discovery] auto_record`): start again to record it.
    Restart,
}

pub struct Daemon {
    cancel: CancellationToken,
    /// Told when the daemon should stop and start again with its new cameras.
    restart: Arc<tokio::sync::Notify>,
    recorder: RecorderHandle,
    tasks: Tasks,
    store: Store,
    health: Health,
    socket: PathBuf,
    /// Taken over before anything starts, so a signal during start-up is a clean stop too.
    term: Signal,
    int: Signal,
}

impl Daemon {
    /// Everything up to READY=1: a returned daemon is serving.
    pub async fn start(cfg: Config) -> Result<Daemon, DaemonError> {
        Daemon::start_with_clock(cfg, clock::system()).await
    }

    /// As `start`, on a clock the caller steers (tests).
    pub async fn start_with_clock(
        mut cfg: Config,
        clock: SharedClock,
    ) -> Result<Daemon, DaemonError> {
        let term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
        let int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
        // SIGHUP re-reads credential files; registering it once keeps its default action
        // (exit) away for the life of the process.
        drop(signal(SignalKind::hangup()).map_err(DaemonError::Signals)?);
        // Footage, the database and the socket are private to the daemon's user.
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let data_dir = DataDir::new(&cfg.device.data_dir);
        std::fs::create_dir_all(data_dir.root()).map_err(|source| DaemonError::DataDir {
            path: data_dir.root().to_path_buf(),
            source,
        })?;

        preflight::check(&cfg)?;
        let db_path = data_dir.db();
        let opts = StoreOptions {
            queue: QueuePolicy::from_config(&cfg),
            ..Default::default()
        };
        let store = tokio::task::spawn_blocking(move || Store::open_with(&db_path, opts))
            .await
            .map_err(|_| StoreError::Closed)??;
        // Cameras found earlier (`[discovery] auto_record`) record like configured ones.
        let found = store.read(|db| db.auto_cameras()).await?;
        crate::discovery::auto::merge(&mut cfg, &found);
        let cams: Vec<(String, SourceKind, bool)> = cfg
            .cameras
            .iter()
            .map(|c| (c.name.clone(), c.kind, c.enabled))
            .collect();
        let now = clock.now();
        store.write(move |db| db.sync_cameras(&cams, now)).await?;
        store.flush().await?;

        let socket = data_dir.socket();
        let listener = control::bind(&socket)?;
        let health = Health::new(&cfg, store.clone(), clock);
        let rejected = tokio::fs::read_to_string(data_dir.config_rejected())
            .await
            .ok();
        health.set_config_rejected(rejected.map(|s| s.trim().to_string()));
        let cancel = CancellationToken::new();
        let mut tasks = Tasks::new(cancel.clone());

        let retention = crate::retention::spawn(&cfg, store.clone(), health.clone(), &mut tasks);
        let wanted = store.read(|db| db.wanted()).await?;
        let recorder = crate::recorder::spawn(
            &cfg,
            store.clone(),
            health.clone(),
            retention.recording_paused.clone(),
            &wanted,
            &mut tasks,
        );
        let uploader = crate::upload::spawn(&cfg, store.clone(), health.clone(), &mut tasks)?;
        // The OnSegmentComplete hook: a closed segment is the moment the card fills
        // (retention looks at once) and the moment there is something new to upload.
        let (rec, ret, up) = (recorder.clone(), retention.clone(), uploader.clone());
        tasks.spawn_supervised("segment hooks", move |tok| {
            let (ret, up) = (ret.clone(), up.clone());
            infallible(crate::recorder::on_segment(
                rec.subscribe(),
                tok,
                move || {
                    ret.wake();
                    if let Some(u) = &up {
                        u.wake();
                    }
                },
            ))
        });
        // A camera whose recording failed (a full card, say): retention makes room now.
        let (wanted, ret) = (recorder.space_wanted(), retention.clone());
        tasks.spawn_supervised("space hook", move |tok| {
            let (wanted, ret) = (wanted.clone(), ret.clone());
            infallible(async move {
                loop {
                    tokio::select! {
                        _ = tok.cancelled() => return,
                        _ = wanted.notified() => ret.wake(),
                    }
                }
            })
        });
        if let Some(up) = uploader.clone() {
            tasks.spawn_supervised("SIGHUP", move |tok| reload_on_hangup(up.clone(), tok));
        }
        let relay = crate::relay::spawn(&cfg, store.clone(), health.clone(), &mut tasks);
        crate::ftp::spawn(&cfg, relay.clone(), &mut tasks);
        let ota = crate::ota::spawn(&cfg, health.clone(), &mut tasks);
        let restart = Arc::new(tokio::sync::Notify::new());
        let discovery = crate::discovery::spawn(
            &cfg,
            health.clone(),
            store.clone(),
            restart.clone(),
            &mut tasks,
        );
        let dispatcher = Dispatcher::new(
            health.clone(),
            recorder.clone(),
            uploader,
            relay,
            ota,
            discovery,
            cfg.device.allow_remote_reboot,
        );
        if cfg.mqtt.url.is_some() {
            let (d, h, s) = (dispatcher.clone(), health.clone(), store.clone());
            let cfg = Arc::new(cfg.clone());
            tasks.spawn_supervised("mqtt", move |tok| {
                crate::mqtt::run(cfg.clone(), d.clone(), h.clone(), s.clone(), tok)
            });
        }

        let listener = Arc::new(listener);
        tasks.spawn_supervised("control", move |tok| {
            control::serve(listener.clone(), dispatcher.clone(), tok)
        });

        crate::web::spawn(&cfg, health.clone(), &mut tasks);

        let h = health.clone();
        tasks.spawn_supervised("health", move |tok| crate::health::monitor(h.clone(), tok));

        tracing::info!(
            device = %cfg.device.id,
            data_dir = %data_dir.root().display(),
            cameras = cfg.cameras.len(),
            version = crate::VERSION,
            "camvault running"
        );
        notify::ready(&format!("running, {} cameras", cfg.cameras.len()));
        // After READY: the watchdog's first pet is immediate and must not come before it.
        if let Some(interval) = notify::watchdog_interval() {
            let s = store.clone();
            tasks.spawn_supervised("watchdog", move |tok| {
                infallible(notify::watchdog(interval, s.clone(), tok))
            });
        }
        Ok(Daemon {
            cancel,
            restart,
            recorder,
            tasks,
            store,
            health,
            socket,
            term,
            int,
        })
    }

    pub fn health(&self) -> Health {
        self.health.clone()
    }

    pub fn recorder(&self) -> RecorderHandle {
        self.recorder.clone()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Runs until SIGTERM/SIGINT, until `stop` completes or until a found camera asks for a
    /// restart, then shuts down.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<Exit, DaemonError> {
        let (mut term, mut int) = (self.term, self.int);
        let mut exit = Exit::Stopped;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
            _ = stop => tracing::info!("stopping"),
            _ = self.restart.notified() => {
                // Finds come in bursts (a hub with two cameras): take them in together.
                tokio::time::sleep(Duration::from_secs(2)).await;
                tracing::info!("restarting to record the cameras found");
                exit = Exit::Restart;
            }
        }
        match exit {
            Exit::Stopped => notify::stopping(),
            Exit::Restart => notify::reloading(),
        }
        self.cancel.cancel();

        tokio::select! {
            drained = self.tasks.drain(GRACE) => if !drained {
                tracing::warn!("components did not stop in time");
            },
            _ = term.recv() => immediate_exit(),
            _ = int.recv() => immediate_exit(),
        }
        self.tasks.abort_all();
        let store = self.store;
        let closed = tokio::task::spawn_blocking(move || store.close()).await;
        let _ = std::fs::remove_file(&self.socket);
        match closed {
            Ok(r) => r?,
            Err(_) => return Err(StoreError::Closed.into()),
        }
        tracing::info!("stopped");
        Ok(exit)
    }
}

/// Re-reads the upload credential files on every SIGHUP (`systemctl reload camvault`): a
/// rotated key takes effect without a restart; a bad file keeps the old credentials.
async fn reload_on_hangup(
    uploader: crate::upload::UploaderHandle,
    cancel: CancellationToken,
) -> Result<(), DaemonError> {
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = hup.recv() => match uploader.reload_credentials() {
                Ok(_) => tracing::info!("SIGHUP: upload credentials re-read"),
                Err(e) => tracing::warn!(error = %e, "SIGHUP: credentials not re-read; keeping the old ones"),
            },
        }
    }
}

/// A second signal: the user wants out now. The store is crash-safe; at most the open
/// one-second batch is lost, and nothing in it is unrecoverable.
fn immediate_exit() -> ! {
    tracing::warn!("second signal: exiting immediately");
    std::process::exit(130);
}

/// `camvault run`.
pub async fn run(cfg: Config) -> Result<Exit, DaemonError> {
    Daemon::start(cfg)
        .await?
        .run_until(std::future::pending())
        .await
}
