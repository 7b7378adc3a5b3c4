//! Being found: a DNS-SD advert over mDNS (the `mdns-sd` crate) for `_camvault._tcp` on
//! `camvault-<id>.local`, with TXT `id`, `version`, `model`, `mac` and `http` (the status
//! page's port, empty when off), plus `_http._tcp` (`_https._tcp` with TLS) when the page is
//! on. Home Assistant's
//! zeroconf and any Bonjour browser see it; the addresses follow the interfaces as they
//! come and go.

use mdns_sd::{ServiceDaemon, ServiceInfo};
use tokio_util::sync::CancellationToken;

use super::DiscoveryError;
use crate::config::Config;

pub const SERVICE: &str = "_camvault._tcp.local.";
const HTTP_SERVICE: &str = "_http._tcp.local.";
const HTTPS_SERVICE: &str = "_https._tcp.local.";

/// The adverts for this device (pure: tested without a network).
pub fn adverts(cfg: &Config, model: &str, mac: &str) -> Result<Vec<ServiceInfo>, DiscoveryError> {
    let id = &cfg.device.id;
    let instance = format!("camvault-{id}");
    let host = format!("{instance}.local.");
    let http = cfg.http.listen.map(|a| a.port());
    let port_text = http.map(|p| p.to_string()).unwrap_or_default();
    let txt = [
        ("id", id.as_str()),
        ("version", crate::VERSION),
        ("model", model),
        ("mac", mac),
        ("http", port_text.as_str()),
    ];
    let bad = |e: mdns_sd::Error| DiscoveryError::Mdns(e.to_string());
    let mut out = vec![
        ServiceInfo::new(SERVICE, &instance, &host, "", http.unwrap_or(0), &txt[..])
            .map_err(bad)?
            .enable_addr_auto(),
    ];
    if let Some(port) = http {
        out.push(
            ServiceInfo::new(
                if cfg.http.tls {
                    HTTPS_SERVICE
                } else {
                    HTTP_SERVICE
                },
                &instance,
                &host,
                "",
                port,
                &[("path", "/")][..],
            )
            .map_err(bad)?
            .enable_addr_auto(),
        );
    }
    Ok(out)
}

/// Announces until cancelled, then says goodbye (so browsers drop the device at once).
pub async fn run(
    cfg: std::sync::Arc<Config>,
    cancel: CancellationToken,
) -> Result<(), DiscoveryError> {
    let board = tokio::task::spawn_blocking(crate::health::board::Board::read)
        .await
        .unwrap_or_default();
    let model = board.model.unwrap_or_else(|| "generic".into());
    let services = adverts(&cfg, &model, board.mac.as_deref().unwrap_or(""))?;
    let daemon = ServiceDaemon::new().map_err(|e| DiscoveryError::Mdns(e.to_string()))?;
    let names: Vec<String> = services
        .iter()
        .map(|s| s.get_fullname().to_string())
        .collect();
    for s in services {
        daemon
            .register(s)
            .map_err(|e| DiscoveryError::Mdns(e.to_string()))?;
    }
    tracing::info!(service = %names[0], "announced over mDNS");
    cancel.cancelled().await;
    let _ = tokio::task::spawn_blocking(move || {
        for n in &names {
            if let Ok(rx) = daemon.unregister(n) {
                let _ = rx.recv_timeout(std::time::Duration::from_secs(1));
            }
        }
        let _ = daemon.shutdown();
    })
    .await;
    Ok(())
}
