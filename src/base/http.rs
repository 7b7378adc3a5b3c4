//! One way to build an HTTP client: the system's trust store plus an optional private CA
//! file, a User-Agent and bounded connect/read waits. The uploader and the OTA download both
//! use it, so `upload.ca_file` means the same thing for both.

use std::path::Path;
use std::time::Duration;

/// Why a client could not be built: the text names the CA file when it was the cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpSetupError(pub String);

pub fn client(
    ca_file: Option<&Path>,
    read_timeout: Duration,
) -> Result<reqwest::Client, HttpSetupError> {
    let mut http = reqwest::Client::builder();
    if let Some(path) = ca_file {
        let bad = |e: &dyn std::fmt::Display| {
            HttpSetupError(format!("upload.ca_file {}: {e}", path.display()))
        };
        let pem = std::fs::read(path).map_err(|e| bad(&e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(&e))?;
        if certs.is_empty() {
            return Err(bad(&"no PEM certificate in it"));
        }
        for cert in certs {
            http = http.add_root_certificate(cert);
        }
    }
    http.user_agent(concat!("camvault/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(read_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| HttpSetupError(e.to_string()))
}
