//! `_rtsp._tcp` services on the LAN (cameras and NVRs that advertise their streams over
//! mDNS), browsed for a few seconds with the `mdns-sd` crate.

use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};

#[derive(Debug, Clone, serde::Serialize)]
pub struct RtspService {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub addresses: Vec<String>,
    /// `rtsp://<first address>:<port>/<path TXT, if any>`.
    pub uri: Option<String>,
}

/// Blocking: run it on a blocking thread.
pub fn rtsp_services(wait: Duration) -> Result<Vec<RtspService>, String> {
    let daemon = ServiceDaemon::new().map_err(|e| e.to_string())?;
    let rx = daemon
        .browse("_rtsp._tcp.local.")
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + wait;
    let mut out: Vec<RtspService> = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = rx.recv_timeout(left) else {
            break;
        };
        if let ServiceEvent::ServiceResolved(s) = event {
            let mut addresses: Vec<String> =
                s.get_addresses_v4().iter().map(|a| a.to_string()).collect();
            addresses.sort();
            let path = s
                .get_properties()
                .get_property_val_str("path")
                .unwrap_or("")
                .trim_start_matches('/')
                .to_string();
            let uri = addresses
                .first()
                .map(|a| format!("rtsp://{a}:{}/{path}", s.get_port()));
            let name = s.get_fullname().to_string();
            if !out.iter().any(|o| o.name == name) {
                out.push(RtspService {
                    name,
                    host: s.get_hostname().to_string(),
                    port: s.get_port(),
                    addresses,
                    uri,
                });
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(out)
}
