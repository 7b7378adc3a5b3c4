//! `[discovery] auto_record`: found cameras that record without a config entry. A camera is
//! kept in the store (name, source without password) once, and from then on is one of the
//! daemon's cameras like any other: status, MQTT, Home Assistant, retention, uploads. A
//! config-file camera always wins, by name and by source.

use crate::config::{AudioMode, AutoRecord, CameraConfig, Config, SensitiveUrl, SourceKind};
use crate::store::{AutoCamera, FoundBy};

pub fn wanted(policy: AutoRecord, kind: FoundBy) -> bool {
    match policy {
        AutoRecord::Off => false,
        AutoRecord::V4l2 => kind == FoundBy::V4l2,
        AutoRecord::All => true,
    }
}

/// A source compared without credentials (`rtsp://host:port/path`), and a V4L2 node by
/// what its path resolves to (`/dev/v4l/by-id/…` is `/dev/video0`).
fn same_source(a: &str, b: &str) -> bool {
    if let (Some(x), Some(y)) = (a.strip_prefix("v4l2://"), b.strip_prefix("v4l2://")) {
        let real = |p: &str| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
        return real(x) == real(y);
    }
    match (without_credentials(a), without_credentials(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The URL with no user or password in it.
pub fn without_credentials(source: &str) -> Option<String> {
    let mut u = url::Url::parse(source).ok()?;
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Some(u.to_string())
}

/// Whether the config (or an earlier find) already records this source.
pub fn is_configured(cfg: &Config, source: &str) -> bool {
    cfg.cameras
        .iter()
        .any(|c| same_source(c.source.expose(), source))
}

/// A camera name from what the camera calls itself: `[a-z0-9_-]{1,32}`, not in `taken`.
pub fn name_for(hint: &str, taken: &[String]) -> String {
    let mut base: String = hint
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    let mut base = base.trim_matches('-').to_string();
    base.truncate(28);
    if base.is_empty() {
        base = "camera".into();
    }
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken.contains(n))
        .unwrap_or(base)
}

/// Adds the found cameras to `cfg.cameras` (a config camera of the same name or source
/// wins). An ONVIF camera gets the `[discovery]` credentials in its source.
pub fn merge(cfg: &mut Config, found: &[AutoCamera]) {
    for a in found {
        let clash = cfg
            .cameras
            .iter()
            .any(|c| c.name == a.name || same_source(c.source.expose(), &a.source));
        if clash {
            continue;
        }
        let mut source = a.source.clone();
        if a.kind == FoundBy::Onvif
            && let (Some(user), Some(pw), Ok(mut u)) = (
                &cfg.discovery.onvif_username,
                &cfg.discovery.onvif_password,
                url::Url::parse(&a.source),
            )
        {
            let _ = u.set_username(user);
            let _ = u.set_password(Some(pw.expose()));
            source = u.to_string();
        }
        let source = SensitiveUrl::new(source);
        let Some(kind) = SourceKind::of(&source) else {
            continue;
        };
        cfg.cameras.push(CameraConfig {
            name: a.name.clone(),
            source,
            password_file: None,
            enabled: true,
            encoder: "copy".into(),
            audio: AudioMode::default(),
            kind,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let taken = vec!["vivid-000-vid-cap".to_string()];
        assert_eq!(name_for("Testcam Front", &[]), "testcam-front");
        assert_eq!(name_for("vivid-000-vid-cap", &taken), "vivid-000-vid-cap-2");
        assert_eq!(name_for("  ", &[]), "camera");
        assert_eq!(
            name_for("HD Pro Webcam C920 (usb-0000:01:00.0-1.2)", &[]).len(),
            28
        );
    }

    #[test]
    fn the_config_wins_and_onvif_gets_its_credentials() {
        let mut cfg: Config = toml::from_str(
            "[[camera]]\nname = \"front\"\nsource = \"rtsp://u:p@10.0.0.5:554/main\"\n\
             [discovery]\nonvif_username = \"admin\"\nonvif_password = \"s3cret\"\n",
        )
        .unwrap();
        cfg.cameras[0].kind = SourceKind::Rtsp;
        assert!(is_configured(&cfg, "rtsp://10.0.0.5:554/main"));
        let found = |name: &str, kind, source: &str| AutoCamera {
            name: name.into(),
            kind,
            found_id: source.into(),
            source: source.into(),
            created: chrono::Utc::now(),
        };
        merge(
            &mut cfg,
            &[
                found("dup", FoundBy::Onvif, "rtsp://10.0.0.5:554/main"),
                found("front", FoundBy::V4l2, "v4l2:///dev/video0"),
                found("gate", FoundBy::Onvif, "rtsp://10.0.0.6:554/s1"),
                found("usb", FoundBy::V4l2, "v4l2:///dev/video2"),
            ],
        );
        let names: Vec<&str> = cfg.cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["front", "gate", "usb"]);
        assert_eq!(
            cfg.cameras[1].source.expose(),
            "rtsp://admin:s3cret@10.0.0.6:554/s1"
        );
        assert_eq!(cfg.cameras[2].kind, SourceKind::V4l2);
        assert!(wanted(AutoRecord::V4l2, FoundBy::V4l2));
        assert!(!wanted(AutoRecord::V4l2, FoundBy::Onvif));
        assert!(!wanted(AutoRecord::Off, FoundBy::V4l2));
    }
}
