//! tracing to journald when systemd started us (JOURNAL_STREAM is set), else to stderr.
//! The level comes from `[log] level`; RUST_LOG, when set, wins.
//!
//! Nothing logged may carry a secret: secrets are `Secret`/`SensitiveUrl` values whose
//! Display and Debug redact, and tests grep the daemon's debug output for them.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// libunftp logs its internal structs at INFO, kilobytes per FTP session; camvault logs one
/// line per upload itself. Its messages show from WARN unless the level names it.
fn with_quiet_ftp(level: &str) -> String {
    if level.contains("libunftp") {
        level.to_string()
    } else {
        format!("{level},libunftp=warn")
    }
}

pub fn init(config_level: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(with_quiet_ftp(config_level)).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        match tracing_journald::layer() {
            Ok(journald) => {
                let _ = registry
                    .with(journald.with_syslog_identifier("camvault".into()))
                    .try_init();
                return;
            }
            Err(e) => eprintln!("camvault: journald unavailable ({e}); logging to stderr"),
        }
    }
    let _ = registry
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false),
        )
        .try_init();
}
