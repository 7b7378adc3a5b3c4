//! The LAN: finding cameras (ONVIF WS-Discovery, V4L2 devices, `_rtsp._tcp` over mDNS) and
//! being found (an mDNS advert). Each finder is a plain function over bytes or a socket, so
//! the parsers are tested and fuzzed without a network.

pub mod announce;

use std::sync::Arc;

use crate::base::Tasks;
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("mDNS: {0}")]
    Mdns(String),
    #[error("WS-Discovery socket: {0}")]
    Socket(std::io::Error),
    #[error("ONVIF {url}: {reason}")]
    Onvif { url: String, reason: String },
}

/// Starts the mDNS advert (`[discovery] announce`).
pub fn spawn(cfg: &Config, tasks: &mut Tasks) {
    if cfg.discovery.announce {
        let cfg = Arc::new(cfg.clone());
        tasks.spawn_supervised("mdns", move |tok| announce::run(cfg.clone(), tok));
    }
}
