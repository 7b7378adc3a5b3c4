//! `camvault demo`: the main job on embedded defaults, with no outside service: two synthetic
//! test cameras, 10-second segments, uploads into a local folder, status on stdout.

use std::path::Path;
use std::time::Duration;

use crate::config::{self, Config, ConfigError};
use crate::daemon::{Daemon, DaemonError};
use crate::health::Status;

const DEMO_CONFIG: &str = r#"
[device]
id = "cv-demo"
data_dir = @DATA_DIR@

[[camera]]
name = "demo1"
source = "test:"

[[camera]]
name = "demo2"
source = "test:"

[recording]
segment_seconds = 10

[upload]
destination = "dir"
dir = @BUCKET_DIR@

# The demo records its two test cameras only, and stays off the LAN.
[discovery]
auto_record = "off"
announce = false
"#;

/// The demo's config for a data directory (absolute), also written to `DIR/camvault.toml` so
/// every other command can look at the demo (`camvault --config DIR/camvault.toml status`).
/// Environment overrides do not apply: the demo must behave the same on every machine. A
/// second run on the same folder resumes: same store, same footage.
pub fn config(data_dir: &Path) -> Result<Config, ConfigError> {
    let quote = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let text = DEMO_CONFIG
        .replace("@DATA_DIR@", &quote(data_dir))
        .replace("@BUCKET_DIR@", &quote(&data_dir.join("bucket")));
    let file = data_dir.join("camvault.toml");
    let cfg = config::load_str(&text, &file, &[])?;
    let written = std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&file, format!("# written by `camvault demo`{text}")));
    if let Err(e) = written {
        return Err(ConfigError::Read {
            file,
            reason: e.to_string(),
        });
    }
    Ok(cfg)
}

pub async fn run(cfg: Config, seconds: Option<u64>) -> Result<(), DaemonError> {
    println!(
        "camvault demo: two test cameras recording into {} (upload destination: {})",
        cfg.device.data_dir.display(),
        cfg.upload
            .dir
            .as_deref()
            .unwrap_or(Path::new("-"))
            .display()
    );
    println!(
        "look at it from another shell: camvault --config {} status",
        cfg.device.data_dir.join("camvault.toml").display()
    );
    let daemon = Daemon::start(cfg).await?;
    let health = daemon.health();
    let printer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            match health.status().await {
                Ok(s) => println!("{}", summary(&s)),
                Err(e) => println!("status unavailable: {e}"),
            }
        }
    });
    let stop = async move {
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    let result = daemon.run_until(stop).await;
    printer.abort();
    result.map(drop)
}

fn summary(s: &Status) -> String {
    let cams: Vec<String> = s
        .cameras
        .iter()
        .map(|(name, c)| {
            let state = serde_json::to_value(c.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "{name} {state} {:.0} fps {:.0} kbit/s, {} segments",
                c.fps, c.bitrate_kbps, c.segments
            )
        })
        .collect();
    format!("[{:>4}s] {}", s.uptime_s.unwrap_or(0), cams.join(" | "))
}
