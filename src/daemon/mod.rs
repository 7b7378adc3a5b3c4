//! The daemon: opens the store, starts every component as a supervised task under one
//! cancellation token, tells systemd, and shuts down cleanly on the first SIGTERM/SIGINT
//! (immediately on the second).

mod notify;
pub mod supervisor;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, SourceKind};
use crate::control::{self, ControlError, Dispatcher};
use crate::events::EventBus;
use crate::health::Health;
use crate::recorder::RecorderHandle;
use crate::store::{Store, StoreError};
use supervisor::{Backoff, supervise};

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
    #[error("{0}")]
    Upload(String),
    #[error("signal handling: {0}")]
    Signals(std::io::Error),
}

pub struct Daemon {
    cancel: CancellationToken,
    recorder: RecorderHandle,
    tasks: JoinSet<()>,
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
        let term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
        let int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
        // Footage, the database and the socket are private to the daemon's user.
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let data_dir = cfg.device.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| DaemonError::DataDir {
            path: data_dir.clone(),
            source,
        })?;

        let db_path = data_dir.join("camvault.db");
        let store = tokio::task::spawn_blocking(move || Store::open(&db_path))
            .await
            .map_err(|_| StoreError::Closed)??;
        let cams: Vec<(String, SourceKind, bool)> = cfg
            .cameras
            .iter()
            .filter_map(|c| SourceKind::of(&c.source).map(|k| (c.name.clone(), k, c.enabled)))
            .collect();
        let now = SystemClock.now();
        store.write(move |db| db.sync_cameras(&cams, now)).await?;
        store.flush().await?;

        let socket = control::socket_path(&data_dir);
        let listener = control::bind(&socket)?;
        let events = EventBus::default();
        let health = Health::new(&cfg, store.clone(), events.clone());
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();

        let retention =
            crate::retention::spawn(&cfg, store.clone(), health.clone(), &cancel, &mut tasks);
        let recorder = crate::recorder::spawn(
            &cfg,
            store.clone(),
            health.clone(),
            retention.recording_paused.clone(),
            &cancel,
            &mut tasks,
        );
        // A closed segment is the moment the card fills: retention looks at once.
        let r = retention.clone();
        tasks.spawn(crate::recorder::on_segment(
            recorder.subscribe(),
            cancel.clone(),
            move || r.wake(),
        ));
        let uploader = crate::upload::spawn(
            &cfg,
            store.clone(),
            health.clone(),
            Some(recorder.subscribe()),
            &cancel,
            &mut tasks,
        )
        .map_err(DaemonError::Upload)?;
        let relay = crate::relay::spawn(&cfg, store.clone(), health.clone(), &cancel, &mut tasks);
        crate::ftp::spawn(&cfg, relay.clone(), &cancel, &mut tasks);
        let dispatcher = Dispatcher::new(
            health.clone(),
            recorder.clone(),
            uploader,
            relay,
            cfg.device.allow_remote_reboot,
        );
        if cfg.mqtt.url.is_some() {
            let (c, d, h, s) = (
                cancel.clone(),
                dispatcher.clone(),
                health.clone(),
                store.clone(),
            );
            let cfg = Arc::new(cfg.clone());
            tasks.spawn(async move {
                supervise("mqtt", c, Backoff::default(), move |tok| {
                    crate::mqtt::run(cfg.clone(), d.clone(), h.clone(), s.clone(), tok)
                })
                .await;
            });
        }

        let listener = Arc::new(listener);
        let c = cancel.clone();
        tasks.spawn(async move {
            supervise("control", c, Backoff::default(), move |tok| {
                control::serve(listener.clone(), dispatcher.clone(), tok)
            })
            .await;
        });

        let (c, h) = (cancel.clone(), health.clone());
        tasks.spawn(async move {
            supervise("health", c, Backoff::default(), move |tok| {
                crate::health::monitor(h.clone(), tok)
            })
            .await;
        });

        tracing::info!(
            device = %cfg.device.id,
            data_dir = %data_dir.display(),
            cameras = cfg.cameras.len(),
            version = crate::VERSION,
            "camvault running"
        );
        notify::ready(&format!("running, {} cameras", cfg.cameras.len()));
        // After READY: the watchdog's first pet is immediate and must not come before it.
        if let Some(interval) = notify::watchdog_interval() {
            tasks.spawn(notify::watchdog(interval, store.clone(), cancel.clone()));
        }
        Ok(Daemon {
            cancel,
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

    /// Runs until SIGTERM/SIGINT or until `stop` completes, then shuts down.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<(), DaemonError> {
        let (mut term, mut int) = (self.term, self.int);
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
            _ = stop => tracing::info!("stopping"),
        }
        notify::stopping();
        self.cancel.cancel();

        let drained = async { while self.tasks.join_next().await.is_some() {} };
        tokio::select! {
            _ = drained => {}
            _ = tokio::time::sleep(GRACE) => tracing::warn!("components did not stop in time"),
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
        Ok(())
    }
}

/// A second signal: the user wants out now. The store is crash-safe; at most the open
/// one-second batch is lost, and nothing in it is unrecoverable.
fn immediate_exit() -> ! {
    tracing::warn!("second signal: exiting immediately");
    std::process::exit(130);
}

/// `camvault run`.
pub async fn run(cfg: Config) -> Result<(), DaemonError> {
    Daemon::start(cfg)
        .await?
        .run_until(std::future::pending())
        .await
}
