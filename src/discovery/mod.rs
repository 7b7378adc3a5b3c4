//! The LAN: finding cameras (ONVIF WS-Discovery, V4L2 devices, `_rtsp._tcp` over mDNS) and
//! being found (an mDNS advert). The parsers are plain functions over bytes, tested and
//! fuzzed without a network; the sockets sit apart from them.

pub mod announce;
pub mod auto;
pub mod browse;
pub mod onvif;
pub mod v4l2;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::base::Tasks;
use crate::config::{AutoRecord, Config, Secret};
use crate::health::{DeviceEvent, Health};
use crate::store::{AutoCamera, FoundBy, Store, StoreError};
use onvif::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("mDNS: {0}")]
    Mdns(String),
    #[error("WS-Discovery socket: {0}")]
    Socket(std::io::Error),
    #[error("watching /dev for V4L2 cameras: {0}")]
    Hotplug(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `discover` answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    pub onvif: Vec<onvif::OnvifCamera>,
    pub v4l2: Vec<crate::media::v4l2::V4l2Device>,
    pub rtsp: Vec<browse::RtspService>,
}

/// The cameras heard so far (Hello, or an answer to a Probe), by endpoint URN: a camera
/// that changes its address is still the same camera.
#[derive(Clone)]
pub struct Discovery {
    seen: Arc<Mutex<BTreeMap<String, Endpoint>>>,
    health: Health,
    wait: Duration,
    creds: Option<(String, Secret)>,
    http: reqwest::Client,
    /// The cameras as the daemon runs them (config and earlier finds), to tell new ones.
    cfg: Arc<Config>,
    store: Store,
    /// Told when a found camera was added: the daemon restarts to record it.
    restart: Arc<tokio::sync::Notify>,
}

impl Discovery {
    pub fn new(
        cfg: &Config,
        health: Health,
        store: Store,
        restart: Arc<tokio::sync::Notify>,
    ) -> Discovery {
        let d = &cfg.discovery;
        let creds = match (&d.onvif_username, &d.onvif_password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        Discovery {
            seen: Default::default(),
            health,
            wait: Duration::from_secs(d.probe_seconds.into()),
            creds,
            // The project's one way to build a client; each SOAP call has its own 5 s limit.
            http: crate::base::http::client(None, Duration::from_secs(5)).unwrap_or_default(),
            cfg: Arc::new(cfg.clone()),
            store,
            restart,
        }
    }

    /// Notes a camera; a new one is announced as `camera.discovered`, and recorded when
    /// `auto_record = "all"`.
    async fn heard(&self, ep: Endpoint) {
        if !ep.is_camera() {
            return;
        }
        let new = self
            .seen
            .lock()
            .insert(ep.urn.clone(), ep.clone())
            .is_none();
        if !new {
            return;
        }
        tracing::info!(urn = %ep.urn, xaddrs = ?ep.xaddrs, "ONVIF camera found");
        self.health.emit(DeviceEvent::CameraDiscovered {
            kind: "onvif".into(),
            id: ep.urn.clone(),
            name: ep.scope("name"),
            address: ep.xaddrs.first().cloned(),
        });
        if !auto::wanted(self.cfg.discovery.auto_record, FoundBy::Onvif) {
            return;
        }
        let creds = self.creds.as_ref().map(|(u, p)| (u.as_str(), p));
        let cam = onvif::client::describe(&self.http, &ep, creds).await;
        let Some(stream) = cam.streams.first() else {
            tracing::warn!(urn = %ep.urn, error = ?cam.error, "found camera not recorded: no stream");
            return;
        };
        let hint = cam
            .name
            .clone()
            .or(cam.model.clone())
            .unwrap_or_else(|| "onvif".into());
        self.record(FoundBy::Onvif, &ep.urn, &stream.source, &hint)
            .await;
    }

    /// Keeps a found camera for recording and asks for the restart that starts it, unless
    /// the config (or an earlier find) already records its source.
    async fn record(&self, kind: FoundBy, found_id: &str, source: &str, hint: &str) {
        if auto::is_configured(&self.cfg, source) {
            return;
        }
        let mut taken: Vec<String> = self.cfg.cameras.iter().map(|c| c.name.clone()).collect();
        let known = self
            .store
            .read(|db| db.auto_cameras())
            .await
            .unwrap_or_default();
        if known.iter().any(|a| a.found_id == found_id) {
            return;
        }
        taken.extend(known.into_iter().map(|a| a.name));
        let cam = AutoCamera {
            name: auto::name_for(hint, &taken),
            kind,
            found_id: found_id.to_string(),
            source: source.to_string(),
            created: self.health.now(),
        };
        let (c, name) = (cam.clone(), cam.name.clone());
        let added = self.store.write(move |db| db.add_auto_camera(&c)).await;
        match added {
            Ok(true) if self.store.flush().await.is_ok() => {
                tracing::info!(camera = %name, source = %crate::config::redact_url(source), "recording a found camera; restarting to start it");
                self.restart.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(camera = %name, error = %e, "found camera not kept"),
        }
    }

    /// Reports V4L2 capture devices as they are plugged in (those present at start too), and
    /// records the ones no camera records when `auto_record` is `v4l2` or `all`.
    pub async fn watch_v4l2(self, cancel: CancellationToken) -> Result<(), DiscoveryError> {
        let mut watcher = v4l2::Watcher::new().map_err(DiscoveryError::Hotplug)?;
        loop {
            for dev in watcher.scan().await {
                tracing::info!(device = %dev.device, name = %dev.name, "V4L2 camera found");
                self.health.emit(DeviceEvent::CameraDiscovered {
                    kind: "v4l2".into(),
                    id: dev.device.clone(),
                    name: Some(dev.name.clone()),
                    address: None,
                });
                let recordable = crate::media::v4l2::choose(&dev.formats).is_some();
                if recordable && auto::wanted(self.cfg.discovery.auto_record, FoundBy::V4l2) {
                    let path = v4l2::stable_path(&dev.device);
                    let source = format!("v4l2://{path}");
                    self.record(FoundBy::V4l2, &path, &source, &dev.name).await;
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = watcher.changed() => r.map_err(DiscoveryError::Hotplug)?,
            }
        }
    }

    /// Probes now, then asks every camera known (probed or heard) what it offers; lists V4L2
    /// devices and `_rtsp._tcp` services alongside.
    pub async fn discover(&self) -> Found {
        let wait = self.wait;
        let rtsp = tokio::task::spawn_blocking(move || browse::rtsp_services(wait));
        let v4l2 = tokio::task::spawn_blocking(crate::media::v4l2::capture_devices);
        match onvif::probe::probe(self.wait).await {
            Ok(found) => {
                for ep in found {
                    self.heard(ep).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "WS-Discovery probe"),
        }
        let endpoints: Vec<Endpoint> = self.seen.lock().values().cloned().collect();
        let creds = self.creds.as_ref().map(|(u, p)| (u.as_str(), p));
        let mut onvif = Vec::new();
        for ep in &endpoints {
            onvif.push(onvif::client::describe(&self.http, ep, creds).await);
        }
        let rtsp = match rtsp.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "mDNS browse for _rtsp._tcp");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        Found {
            onvif,
            v4l2: v4l2.await.unwrap_or_default(),
            rtsp,
        }
    }

    /// Listens for Hello and Bye on the WS-Discovery group until cancelled, and probes once
    /// at start so cameras already up are known.
    pub async fn watch(self, cancel: CancellationToken) -> Result<(), DiscoveryError> {
        let mut listener = onvif::probe::Listener::bind().map_err(DiscoveryError::Socket)?;
        if let Ok(found) = onvif::probe::probe(self.wait).await {
            for ep in found {
                self.heard(ep).await;
            }
        }
        let mut rejoin = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = rejoin.tick() => listener.join_new(),
                m = listener.next() => match m.map_err(DiscoveryError::Socket)? {
                    (onvif::wsd::Message::Hello(ep), _) => self.heard(ep).await,
                    (onvif::wsd::Message::Bye(urn), _) if self.seen.lock().remove(&urn).is_some() => {
                        tracing::info!(%urn, "ONVIF camera said goodbye");
                    }
                    _ => {}
                },
            }
        }
    }
}

/// Starts the mDNS advert (`[discovery] announce`), the ONVIF listener (`auto_record =
/// "all"`) and the V4L2 hotplug watch; returns the handle `discover` asks.
pub fn spawn(
    cfg: &Config,
    health: Health,
    store: Store,
    restart: Arc<tokio::sync::Notify>,
    tasks: &mut Tasks,
) -> Discovery {
    if cfg.discovery.announce {
        let cfg = Arc::new(cfg.clone());
        tasks.spawn_supervised("mdns", move |tok| announce::run(cfg.clone(), tok));
    }
    let discovery = Discovery::new(cfg, health, store, restart);
    // Probing the LAN at start and hearing Hellos only serve recording what is found; a
    // `discover` probes (and reports) whatever the setting.
    if cfg.discovery.auto_record == AutoRecord::All {
        let d = discovery.clone();
        tasks.spawn_supervised("onvif", move |tok| d.clone().watch(tok));
    }
    let d = discovery.clone();
    tasks.spawn_supervised("v4l2 hotplug", move |tok| d.clone().watch_v4l2(tok));
    discovery
}
