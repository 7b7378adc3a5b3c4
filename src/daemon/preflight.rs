//! What start-up can check before READY: a problem found here stops the daemon with the key
//! named (exit 2) instead of leaving a task that fails and restarts for ever.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::Config;

/// A setting that cannot work on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct Unusable {
    pub key: String,
    pub reason: String,
}

fn unusable(key: &str, reason: impl Into<String>) -> Unusable {
    Unusable {
        key: key.to_string(),
        reason: reason.into(),
    }
}

pub fn check(cfg: &Config) -> Result<(), Unusable> {
    if !cfg.cameras.is_empty() {
        program("recording.ffmpeg", &cfg.recording.ffmpeg)?;
    }
    if !cfg.cameras.is_empty() || cfg.relay.enabled {
        program("ffmpeg (PATH)", "ffmpeg")?;
    }
    let f = &cfg.ftp;
    if f.enabled {
        // libunftp binds later, in its task: a port in use would fail there for ever.
        std::net::TcpListener::bind(f.listen)
            .map_err(|e| unusable("ftp.listen", format!("cannot listen on {}: {e}", f.listen)))?;
        readable("ftp.tls_cert_file", f.tls_cert_file.as_deref())?;
        readable("ftp.tls_key_file", f.tls_key_file.as_deref())?;
    }
    if cfg.mqtt.url.is_some() {
        readable("mqtt.ca_file", cfg.mqtt.ca_file.as_deref())?;
        readable(
            "mqtt.client_cert_file",
            cfg.mqtt.client_cert_file.as_deref(),
        )?;
        readable("mqtt.client_key_file", cfg.mqtt.client_key_file.as_deref())?;
    }
    if cfg.relay.enabled || f.enabled {
        let inbox = crate::relay::inbox_dir(cfg);
        folder("relay.watch_dir", &inbox)?;
    }
    if cfg.upload.destination == crate::config::Destination::Dir
        && let Some(dir) = &cfg.upload.dir
    {
        folder("upload.dir", dir)?;
    }
    readable("upload.ca_file", cfg.upload.ca_file.as_deref())?;
    Ok(())
}

/// `name` is an executable file, or found as one on PATH.
fn program(key: &str, name: &str) -> Result<(), Unusable> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if name.contains('/') {
        executable(Path::new(name))
    } else {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|d| executable(&d.join(name))))
            .unwrap_or(false)
    };
    if found {
        Ok(())
    } else {
        Err(unusable(
            key,
            format!("`{name}` is not an executable program"),
        ))
    }
}

fn readable(key: &str, path: Option<&Path>) -> Result<(), Unusable> {
    let Some(path) = path else { return Ok(()) };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => std::fs::File::open(path)
            .map(drop)
            .map_err(|e| unusable(key, format!("{}: {e}", path.display()))),
        Ok(_) => Err(unusable(
            key,
            format!("{} is not a regular file", path.display()),
        )),
        Err(e) => Err(unusable(key, format!("{}: {e}", path.display()))),
    }
}

/// The folder exists (or can be made) and takes files.
fn folder(key: &str, dir: &Path) -> Result<(), Unusable> {
    let fail = |e: std::io::Error| unusable(key, format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".camvault-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_and_files() {
        assert!(program("k", "sh").is_ok());
        assert_eq!(
            program("recording.ffmpeg", "/nonexistent/ffmpeg")
                .unwrap_err()
                .key,
            "recording.ffmpeg"
        );
        assert!(readable("k", Some(Path::new("/etc/hostname"))).is_ok());
        assert!(readable("k", Some(Path::new("/etc"))).is_err());
        assert!(readable("k", None).is_ok());
    }

    #[test]
    fn a_port_in_use_is_found() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut cfg = Config::default();
        cfg.ftp.enabled = true;
        cfg.ftp.listen = taken.local_addr().unwrap();
        cfg.relay.watch_dir = Some(std::env::temp_dir().join("camvault-preflight-test"));
        assert_eq!(check(&cfg).unwrap_err().key, "ftp.listen");
    }
}
