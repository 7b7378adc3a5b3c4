//! Where a stored file goes in the bucket, and how urgently: plain functions of the config,
//! kept with the store so that a closed file and its upload job are written in one
//! transaction (nothing closed is ever outside the queue, even across a power cut).

use chrono::{DateTime, Utc};

use super::MediaKind;

/// The upload queue's naming, when uploads are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePolicy {
    /// `upload.key_template`.
    pub template: String,
    pub device: String,
}

impl QueuePolicy {
    /// None when uploads are off (`destination = "none"`).
    pub fn from_config(cfg: &crate::config::Config) -> Option<QueuePolicy> {
        (cfg.upload.destination != crate::config::Destination::None).then(|| QueuePolicy {
            template: cfg.upload.key_template.clone(),
            device: cfg.device.id.clone(),
        })
    }

    /// The object key of a stored file (its path relative to `data_dir`).
    pub fn key(&self, kind: MediaKind, camera: &str, start: DateTime<Utc>, path: &str) -> String {
        let file = path.rsplit('/').next().unwrap_or(path);
        object_key(kind, &self.template, &self.device, camera, start, file)
    }
}

/// The object key for a file, from `key_template`.
pub fn render_key(
    template: &str,
    device: &str,
    camera: &str,
    start: DateTime<Utc>,
    file: &str,
) -> String {
    template
        .replace("{yyyy}", &start.format("%Y").to_string())
        .replace("{mm}", &start.format("%m").to_string())
        .replace("{dd}", &start.format("%d").to_string())
        .replace("{hh}", &start.format("%H").to_string())
        .replace("{camera}", camera)
        .replace("{device}", device)
        .replace("{file}", file)
}

/// The object key for any stored file: recordings follow `key_template`; clips and snapshots
/// go under `clips/<camera>/` and `snapshots/<camera>/` (DESIGN.md, storage layout).
pub fn object_key(
    kind: MediaKind,
    template: &str,
    device: &str,
    camera: &str,
    start: DateTime<Utc>,
    file: &str,
) -> String {
    match kind {
        MediaKind::Continuous => render_key(template, device, camera, start, file),
        MediaKind::Clip => format!("clips/{camera}/{file}"),
        MediaKind::Snapshot => format!("snapshots/{camera}/{file}"),
    }
}

/// Clips and snapshots are what people look at first: they jump the queue.
pub fn priority(kind: MediaKind) -> i64 {
    match kind {
        MediaKind::Continuous => 0,
        MediaKind::Clip | MediaKind::Snapshot => 10,
    }
}
