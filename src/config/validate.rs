//! Checks that parsing cannot express: syntax of names, URL schemes, ranges, cross-key rules.
//! Returns the first problem as (dotted key, reason).

use std::collections::HashSet;

use super::key_template::key_template;
use super::types::{Config, Destination, SourceKind};

type Problem = (String, String);

fn bad<T>(key: impl Into<String>, reason: impl Into<String>) -> Result<T, Problem> {
    Err((key.into(), reason.into()))
}

fn range(key: &str, value: u64, lo: u64, hi: u64) -> Result<(), Problem> {
    if value < lo || value > hi {
        return bad(key, format!("{value} is out of range {lo}..={hi}"));
    }
    Ok(())
}

fn charset(s: &str, max: usize, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
}

fn scheme_of(url: &str) -> String {
    url.split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A URL with one of `schemes` and a host.
fn url_with_host(key: &str, raw: &str, schemes: &[&str]) -> Result<(), Problem> {
    let scheme = scheme_of(raw);
    if !schemes.contains(&scheme.as_str()) {
        return bad(
            key,
            format!("the URL scheme must be one of {}", schemes.join(", ")),
        );
    }
    if raw.chars().any(char::is_control) {
        return bad(key, "must not contain control characters or newlines");
    }
    match url::Url::parse(raw) {
        Ok(u) if u.port() == Some(0) => bad(key, "port 0 is not a port"),
        Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(_) => bad(key, "the URL has no host"),
        // The parser's message never contains the URL itself, so it cannot leak a password.
        Err(e) => bad(key, format!("not a valid URL: {e}")),
    }
}

pub fn validate(cfg: &Config) -> Result<(), Problem> {
    paths(cfg)?;
    device(cfg)?;
    cameras(cfg)?;
    recording(cfg)?;
    upload(cfg)?;
    retention(cfg)?;
    mqtt(cfg)?;
    relay(cfg)?;
    ftp(cfg)?;
    lan(cfg)?;
    range(
        "ota.commit_timeout_minutes",
        cfg.ota.commit_timeout_minutes.into(),
        2,
        120,
    )?;
    if cfg
        .log
        .level
        .parse::<tracing_subscriber::EnvFilter>()
        .is_err()
    {
        return bad(
            "log.level",
            "not a log level or filter (try info, debug, warn)",
        );
    }
    Ok(())
}

fn device(cfg: &Config) -> Result<(), Problem> {
    if !charset(&cfg.device.id, 40, &['-']) {
        return bad("device.id", "must match [a-z0-9-]{1,40}");
    }
    if !cfg.device.data_dir.is_absolute() {
        return bad("device.data_dir", "must be an absolute path");
    }
    // ffmpeg expands % in segment file names (strftime).
    if cfg.device.data_dir.to_string_lossy().contains('%') {
        return bad("device.data_dir", "must not contain %");
    }
    Ok(())
}

fn cameras(cfg: &Config) -> Result<(), Problem> {
    let mut seen = HashSet::new();
    for (i, cam) in cfg.cameras.iter().enumerate() {
        let key = |k: &str| format!("camera[{i}].{k}");
        if !charset(&cam.name, 32, &['_', '-']) {
            return bad(key("name"), "must match [a-z0-9_-]{1,32}");
        }
        if !seen.insert(cam.name.as_str()) {
            return bad(
                key("name"),
                format!("camera name `{}` is used twice", cam.name),
            );
        }
        // A newline would end the line of the private ffconcat file the source is written to.
        if cam.source.expose().chars().any(char::is_control) {
            return bad(
                key("source"),
                "must not contain control characters or newlines",
            );
        }
        match SourceKind::of(&cam.source) {
            Some(SourceKind::Rtsp) => {
                url_with_host(&key("source"), cam.source.expose(), &["rtsp", "rtsps"])?
            }
            Some(SourceKind::V4l2) => {
                let device = cam.source.expose().strip_prefix("v4l2:///dev/");
                let is_video = device.is_some_and(|d| {
                    d.strip_prefix("video")
                        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                        || d.strip_prefix("v4l/by-id/").is_some_and(|n| {
                            !n.is_empty() && !n.contains('/') && n != ".." && n != "."
                        })
                });
                if !is_video {
                    return bad(
                        key("source"),
                        "a V4L2 source is written v4l2:///dev/videoN (or /dev/v4l/by-id/NAME)",
                    );
                }
            }
            Some(SourceKind::Test) => {}
            None => {
                return bad(
                    key("source"),
                    "must start with rtsp://, rtsps://, v4l2:///dev/… or test:",
                );
            }
        }
        if !charset(&cam.encoder, 40, &['_']) {
            return bad(
                key("encoder"),
                "must be copy, auto or an ffmpeg encoder name",
            );
        }
    }
    Ok(())
}

fn recording(cfg: &Config) -> Result<(), Problem> {
    let r = &cfg.recording;
    range(
        "recording.segment_seconds",
        r.segment_seconds.into(),
        10,
        86_400,
    )?;
    if 86_400 % r.segment_seconds != 0 {
        return bad(
            "recording.segment_seconds",
            "must divide a day evenly so segments stay clock-aligned (60, 300, 600, 3600 …)",
        );
    }
    range(
        "recording.fragment_seconds",
        r.fragment_seconds.into(),
        1,
        r.segment_seconds.min(60).into(),
    )?;
    // A program name found on PATH, or a path to an executable file.
    let f = r.ffmpeg.as_str();
    if f.is_empty() || f.starts_with('-') {
        return bad("recording.ffmpeg", "must name an ffmpeg program");
    }
    if f.contains('/') {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(f) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
            Ok(_) => return bad("recording.ffmpeg", format!("{f} is not an executable file")),
            Err(e) => return bad("recording.ffmpeg", format!("{f}: {e}")),
        }
    }
    Ok(())
}

fn upload(cfg: &Config) -> Result<(), Problem> {
    let u = &cfg.upload;
    range("upload.part_size_mib", u.part_size_mib.into(), 5, 5120)?;
    range("upload.concurrency", u.concurrency.into(), 1, 16)?;
    range(
        "upload.presign_expiry_hours",
        u.presign_expiry_hours.into(),
        1,
        168,
    )?;
    key_template(&u.key_template)?;
    if !u
        .storage_class
        .chars()
        .all(|c| c.is_ascii_uppercase() || c == '_')
        || u.storage_class.is_empty()
    {
        return bad(
            "upload.storage_class",
            "must be an S3 storage class like STANDARD or STANDARD_IA",
        );
    }
    let sse = u.server_side_encryption.as_deref();
    if sse.is_some_and(|s| !matches!(s, "AES256" | "aws:kms" | "aws:kms:dsse")) {
        return bad(
            "upload.server_side_encryption",
            "must be AES256, aws:kms or aws:kms:dsse",
        );
    }
    if let Some(endpoint) = &u.endpoint {
        url_with_host("upload.endpoint", endpoint, &["http", "https"])?;
    }
    if u.region.is_empty() {
        return bad("upload.region", "must not be empty");
    }
    match u.destination {
        Destination::S3 => {
            let Some(bucket) = &u.bucket else {
                return bad("upload.bucket", "required when destination = \"s3\"");
            };
            if !(3..=63).contains(&bucket.len())
                || !charset(bucket, 63, &['-', '.'])
                || bucket.starts_with(['-', '.'])
                || bucket.ends_with(['-', '.'])
            {
                return bad(
                    "upload.bucket",
                    "not a valid bucket name (3-63 of a-z 0-9 . -)",
                );
            }
            if u.access_key_id.as_deref().unwrap_or("").is_empty() {
                return bad("upload.access_key_id", "required when destination = \"s3\"");
            }
            if u.secret_access_key.as_ref().is_none_or(|s| s.is_empty()) {
                return bad(
                    "upload.secret_access_key",
                    "required when destination = \"s3\" (inline, as secret_access_key_file, or CAMVAULT_UPLOAD_SECRET_ACCESS_KEY)",
                );
            }
        }
        Destination::Dir => match &u.dir {
            Some(dir) if dir.is_absolute() => {}
            Some(_) => return bad("upload.dir", "must be an absolute path"),
            None => return bad("upload.dir", "required when destination = \"dir\""),
        },
        Destination::None => {}
    }
    Ok(())
}

fn retention(cfg: &Config) -> Result<(), Problem> {
    let r = &cfg.retention;
    range(
        "retention.recordings_days",
        r.recordings_days().into(),
        1,
        3650,
    )?;
    range("retention.snapshots_days", r.snapshots_days.into(), 1, 3650)?;
    range("retention.clips_days", r.clips_days.into(), 1, 3650)?;
    range(
        "retention.keep_uploaded_hours",
        r.keep_uploaded_hours.into(),
        0,
        24 * 3650,
    )?;
    range(
        "retention.disk_warn_percent",
        r.disk_warn_percent.into(),
        1,
        99,
    )?;
    range(
        "retention.disk_critical_percent",
        r.disk_critical_percent.into(),
        1,
        99,
    )?;
    if r.disk_critical_percent <= r.disk_warn_percent {
        return bad(
            "retention.disk_critical_percent",
            "must be above disk_warn_percent",
        );
    }
    Ok(())
}

fn mqtt(cfg: &Config) -> Result<(), Problem> {
    let m = &cfg.mqtt;
    if let Some(url) = &m.url {
        url_with_host("mqtt.url", url.expose(), &["mqtt", "mqtts"])?;
    }
    let p = &m.topic_prefix;
    if p.is_empty() || p.contains(['+', '#']) || p.starts_with('/') || p.ends_with('/') {
        return bad(
            "mqtt.topic_prefix",
            "must be non-empty, without + # or a leading/trailing /",
        );
    }
    range(
        "mqtt.health_interval_seconds",
        m.health_interval_seconds.into(),
        1,
        3600,
    )?;
    let every = m.snapshot_interval_seconds;
    if every != 0 {
        range("mqtt.snapshot_interval_seconds", every.into(), 10, 86_400)?;
    }
    if m.client_cert_file.is_some() != m.client_key_file.is_some() {
        return bad(
            "mqtt.client_cert_file",
            "client_cert_file and client_key_file go together",
        );
    }
    Ok(())
}

fn relay(cfg: &Config) -> Result<(), Problem> {
    let r = &cfg.relay;
    if let Some(url) = &r.rtmp_url {
        url_with_host("relay.rtmp_url", url.expose(), &["rtmp", "rtmps"])?;
    } else if r.enabled {
        return bad("relay.rtmp_url", "required when the relay is enabled");
    }
    if r.watch_dir.as_ref().is_some_and(|d| !d.is_absolute()) {
        return bad("relay.watch_dir", "must be an absolute path");
    }
    range(
        "relay.scan_interval_seconds",
        r.scan_interval_seconds.into(),
        1,
        3600,
    )?;
    range(
        "relay.min_file_age_seconds",
        r.min_file_age_seconds.into(),
        0,
        86_400,
    )?;
    range("relay.max_retries", r.max_retries.into(), 0, 100)?;
    range(
        "relay.max_lag_seconds",
        r.max_lag_seconds.into(),
        0,
        7 * 86_400,
    )?;
    range(
        "relay.retry_delay_seconds",
        r.retry_delay_seconds.into(),
        1,
        86_400,
    )?;
    range("relay.keep_failed_days", r.keep_failed_days.into(), 1, 3650)
}

/// Folders are plain paths: no control characters or newlines, no `..`.
fn paths(cfg: &Config) -> Result<(), Problem> {
    let folders = [
        ("device.data_dir", Some(&cfg.device.data_dir)),
        ("upload.dir", cfg.upload.dir.as_ref()),
        ("relay.watch_dir", cfg.relay.watch_dir.as_ref()),
    ];
    for (key, path) in folders {
        let Some(p) = path else { continue };
        if p.to_string_lossy().chars().any(char::is_control) {
            return bad(key, "must not contain control characters or newlines");
        }
        if p.components().any(|c| c == std::path::Component::ParentDir) {
            return bad(key, "must not contain `..`");
        }
    }
    Ok(())
}

fn ftp(cfg: &Config) -> Result<(), Problem> {
    let f = &cfg.ftp;
    if f.enabled && (f.listen.port() == 0 || f.passive_ports.first == 0) {
        return bad(
            if f.listen.port() == 0 {
                "ftp.listen"
            } else {
                "ftp.passive_ports"
            },
            "port 0 is not a port cameras can be told to use",
        );
    }
    if f.enabled && f.users.is_empty() {
        return bad(
            "ftp.users",
            "at least one user is required when FTP is enabled",
        );
    }
    if f.listen.port() >= f.passive_ports.first && f.listen.port() <= f.passive_ports.last {
        return bad("ftp.passive_ports", "must not include the control port");
    }
    if f.tls_cert_file.is_some() != f.tls_key_file.is_some() {
        return bad(
            "ftp.tls_key_file",
            "FTPS needs both tls_cert_file and tls_key_file",
        );
    }
    let mut seen = HashSet::new();
    for (i, user) in f.users.iter().enumerate() {
        if !charset(&user.name, 32, &['_', '-', '.']) {
            return bad(
                format!("ftp.users[{i}].name"),
                "must match [a-z0-9_.-]{1,32}",
            );
        }
        if !seen.insert(&user.name) {
            return bad(format!("ftp.users[{i}].name"), "user name used twice");
        }
        if user.password.as_ref().is_none_or(|p| p.is_empty()) {
            return bad(
                format!("ftp.users[{i}].password"),
                "a password or password_file is required",
            );
        }
    }
    Ok(())
}

fn lan(cfg: &Config) -> Result<(), Problem> {
    let d = &cfg.discovery;
    range("discovery.probe_seconds", d.probe_seconds.into(), 1, 30)?;
    if d.onvif_password.is_some() && d.onvif_username.as_deref().is_none_or(str::is_empty) {
        return bad(
            "discovery.onvif_username",
            "required when an ONVIF password is given",
        );
    }
    let h = &cfg.http;
    if h.listen.is_some_and(|a| a.port() == 0) {
        return bad("http.listen", "port 0 is not a port a browser can be told");
    }
    if h.username.is_empty() || h.username.contains(':') || h.username.chars().any(char::is_control)
    {
        return bad(
            "http.username",
            "must be non-empty, without ':' or control characters",
        );
    }
    if h.password.is_some() && h.password_file.is_some() {
        return bad(
            "http.password_file",
            "give either `http.password` or `http.password_file`, not both",
        );
    }
    if h.tls_cert_file.is_some() != h.tls_key_file.is_some() {
        return bad(
            "http.tls_key_file",
            "HTTPS needs both tls_cert_file and tls_key_file, or neither (self-signed)",
        );
    }
    if h.password.as_ref().is_some_and(|p| p.expose().len() < 8) {
        return bad("http.password", "must be at least 8 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let cfg = Config::default();
        assert_eq!(validate(&cfg), Ok(()));
    }
}
