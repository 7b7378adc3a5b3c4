//! The device's events, as one enum: MQTT's `event` topic carries them as JSON objects whose
//! `type` is the event's dotted name and whose other fields sit beside it with `at`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::alerts::Alert;
use super::ota::OtaPhase;
use crate::store::MediaKind;

/// One event and when it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub event: DeviceEvent,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum DeviceEvent {
    /// The `OnSegmentComplete` hook: a segment is durable and in the store.
    #[serde(rename = "segment.closed")]
    SegmentClosed {
        camera: String,
        path: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        bytes: i64,
    },
    #[serde(rename = "clip.ready")]
    ClipReady(MediaReady),
    #[serde(rename = "snapshot.ready")]
    SnapshotReady(MediaReady),
    #[serde(rename = "upload.done")]
    UploadDone {
        key: String,
        path: String,
        bytes: u64,
    },
    #[serde(rename = "upload.failed")]
    UploadFailed {
        key: String,
        path: String,
        error: String,
    },
    #[serde(rename = "retention.evicted")]
    RetentionEvicted {
        camera: String,
        kind: MediaKind,
        path: String,
        bytes: u64,
        end: DateTime<Utc>,
        data_loss: bool,
    },
    #[serde(rename = "relay.sent")]
    RelaySent { file: String, duration_s: f64 },
    #[serde(rename = "relay.failed")]
    RelayFailed {
        file: String,
        error: String,
        moved_to: PathBuf,
    },
    #[serde(rename = "alert.raised")]
    AlertRaised(Alert),
    #[serde(rename = "alert.cleared")]
    AlertCleared(Alert),
    /// Every few percent of a download, and at each step of an update.
    #[serde(rename = "ota.progress")]
    OtaProgress {
        version: String,
        stage: OtaPhase,
        percent: u8,
    },
    #[serde(rename = "ota.refused")]
    OtaRefused { version: String, reason: String },
    /// The download or RAUC's install failed; the running slot is untouched.
    #[serde(rename = "ota.failed")]
    OtaFailed { version: String, error: String },
    #[serde(rename = "ota.committed")]
    OtaCommitted { version: String, from: String },
    #[serde(rename = "ota.rolled_back")]
    OtaRolledBack {
        version: String,
        running: String,
        failed: Vec<String>,
    },
    /// A camera seen on the LAN or attached for the first time since start: `kind` is
    /// `onvif` (id: its endpoint URN) or `v4l2` (id: the device node).
    #[serde(rename = "camera.discovered")]
    CameraDiscovered {
        kind: String,
        id: String,
        name: Option<String>,
        address: Option<String>,
    },
}

impl DeviceEvent {
    /// The wire name (`segment.closed`, …), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            DeviceEvent::SegmentClosed { .. } => "segment.closed",
            DeviceEvent::ClipReady(_) => "clip.ready",
            DeviceEvent::SnapshotReady(_) => "snapshot.ready",
            DeviceEvent::UploadDone { .. } => "upload.done",
            DeviceEvent::UploadFailed { .. } => "upload.failed",
            DeviceEvent::RetentionEvicted { .. } => "retention.evicted",
            DeviceEvent::RelaySent { .. } => "relay.sent",
            DeviceEvent::RelayFailed { .. } => "relay.failed",
            DeviceEvent::AlertRaised(_) => "alert.raised",
            DeviceEvent::AlertCleared(_) => "alert.cleared",
            DeviceEvent::OtaProgress { .. } => "ota.progress",
            DeviceEvent::OtaRefused { .. } => "ota.refused",
            DeviceEvent::OtaFailed { .. } => "ota.failed",
            DeviceEvent::OtaCommitted { .. } => "ota.committed",
            DeviceEvent::OtaRolledBack { .. } => "ota.rolled_back",
            DeviceEvent::CameraDiscovered { .. } => "camera.discovered",
        }
    }
}

/// A new clip or snapshot: where it is, where it will be uploaded, and (S3) a presigned URL
/// that works once `upload.done` names the key. Also the command's reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaReady {
    pub camera: String,
    pub path: String,
    pub key: Option<String>,
    pub url: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration_s: f64,
    pub bytes: u64,
    /// Snapshots only: "manual" (or the command's `reason`), "start" when a camera began
    /// recording, "interval" for the periodic picture of Home Assistant's camera entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_type_at_and_the_fields() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let e = Event {
            event: DeviceEvent::RelaySent {
                file: "a.mp4".into(),
                duration_s: 2.5,
            },
            at,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "relay.sent", "file": "a.mp4", "duration_s": 2.5, "at": "2023-11-14T22:13:20Z"})
        );
        assert_eq!(e.event.name(), "relay.sent");
    }
}
