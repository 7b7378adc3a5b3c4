//! The LAN: finding cameras (ONVIF WS-Discovery, V4L2 devices, `_rtsp._tcp` over mDNS) and
//! being found (an mDNS advert). The parsers are plain functions over bytes, tested and
//! fuzzed without a network; the sockets sit apart from them.

pub mod announce;
pub mod browse;
pub mod onvif;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::base::Tasks;
use crate::config::{Config, Secret};
use crate::health::{DeviceEvent, Health};
use onvif::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("mDNS: {0}")]
    Mdns(String),
    #[error("WS-Discovery socket: {0}")]
    Socket(std::io::Error),
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
}

impl Discovery {
    pub fn new(cfg: &Config, health: Health) -> Discovery {
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
            http: reqwest::Client::builder()
                .user_agent(concat!("camvault/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Notes a camera; a new one is announced as `camera.discovered`.
    fn heard(&self, ep: Endpoint) {
        if !ep.is_camera() {
            return;
        }
        let new = self
            .seen
            .lock()
            .insert(ep.urn.clone(), ep.clone())
            .is_none();
        if new {
            tracing::info!(urn = %ep.urn, xaddrs = ?ep.xaddrs, "ONVIF camera found");
            self.health.emit(DeviceEvent::CameraDiscovered {
                kind: "onvif".into(),
                id: ep.urn.clone(),
                name: ep.scope("name"),
                address: ep.xaddrs.first().cloned(),
            });
        }
    }

    /// Probes now, then asks every camera known (probed or heard) what it offers; lists V4L2
    /// devices and `_rtsp._tcp` services alongside.
    pub async fn discover(&self) -> Found {
        let wait = self.wait;
        let rtsp = tokio::task::spawn_blocking(move || browse::rtsp_services(wait));
        let v4l2 = tokio::task::spawn_blocking(crate::media::v4l2::capture_devices);
        match onvif::probe::probe(self.wait).await {
            Ok(found) => found.into_iter().for_each(|ep| self.heard(ep)),
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
            found.into_iter().for_each(|ep| self.heard(ep));
        }
        let mut rejoin = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = rejoin.tick() => listener.join_new(),
                m = listener.next() => match m.map_err(DiscoveryError::Socket)? {
                    (onvif::wsd::Message::Hello(ep), _) => self.heard(ep),
                    (onvif::wsd::Message::Bye(urn), _) if self.seen.lock().remove(&urn).is_some() => {
                        tracing::info!(%urn, "ONVIF camera said goodbye");
                    }
                    _ => {}
                },
            }
        }
    }
}

/// Starts the mDNS advert (`[discovery] announce`) and the ONVIF listener; returns the
/// handle `discover` asks.
pub fn spawn(cfg: &Config, health: Health, tasks: &mut Tasks) -> Discovery {
    if cfg.discovery.announce {
        let cfg = Arc::new(cfg.clone());
        tasks.spawn_supervised("mdns", move |tok| announce::run(cfg.clone(), tok));
    }
    let discovery = Discovery::new(cfg, health);
    let d = discovery.clone();
    tasks.spawn_supervised("onvif", move |tok| d.clone().watch(tok));
    discovery
}
