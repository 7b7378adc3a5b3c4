//! `/metrics` in Prometheus' text format (0.0.4): base units (bytes, seconds, ratios),
//! `_total` counters, one gauge per camera state so a dashboard can graph any of them.
//! The seed's list maps to: disk usage → `camvault_disk_used_bytes`, oldest file age →
//! `camvault_recording_oldest_age_seconds`, snapshots and clips → `camvault_snapshots_total`
//! and `camvault_clips_total`, upload failures → `camvault_upload_failures_total`.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::health::{CameraState, Status};
use crate::store::MediaTotals;

/// What the metrics take beyond the status.
pub struct Extra {
    pub totals: MediaTotals,
    pub upload_failures: u64,
    pub now: DateTime<Utc>,
}

/// One metric family: its HELP and TYPE lines once, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
        self
    }
}

fn family<'a>(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A family with a single, unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    family(out, name, kind, help).sample(name, &[], value);
}

/// One gauge per field, with one sample per camera.
fn per_camera(
    out: &mut String,
    status: &Status,
    name: &str,
    help: &str,
    kind: &str,
    value: impl Fn(&crate::health::CameraStatus) -> f64,
) {
    let mut f = family(out, name, kind, help);
    for (cam, s) in &status.cameras {
        f.sample(name, &[("camera", cam)], value(s));
    }
}

pub fn render(status: &Status, extra: &Extra) -> String {
    let mut out = String::new();
    let o = &mut out;
    family(
        o,
        "camvault_info",
        "gauge",
        "The device and its firmware version.",
    )
    .sample(
        "camvault_info",
        &[
            ("device_id", &status.device_id),
            ("version", &status.version),
        ],
        1.0,
    );
    if let Some(up) = status.uptime_s {
        single(
            o,
            "camvault_uptime_seconds",
            "gauge",
            "Seconds since camvault started.",
            up as f64,
        );
    }
    if let Some(d) = &status.disk {
        single(
            o,
            "camvault_disk_size_bytes",
            "gauge",
            "Size of the recordings' file system.",
            d.total_bytes as f64,
        );
        single(
            o,
            "camvault_disk_used_bytes",
            "gauge",
            "Bytes used on the recordings' file system.",
            d.used_bytes as f64,
        );
        single(
            o,
            "camvault_disk_free_bytes",
            "gauge",
            "Bytes free on the recordings' file system.",
            d.free_bytes as f64,
        );
    }
    let oldest = extra
        .totals
        .oldest_stored
        .map(|t| (extra.now - t).num_milliseconds().max(0) as f64 / 1000.0);
    if let Some(age) = oldest {
        single(
            o,
            "camvault_recording_oldest_age_seconds",
            "gauge",
            "Age of the oldest footage still on the card.",
            age,
        );
    }
    single(
        o,
        "camvault_snapshots_total",
        "counter",
        "Snapshots taken.",
        extra.totals.snapshots as f64,
    );
    single(
        o,
        "camvault_clips_total",
        "counter",
        "Clips cut.",
        extra.totals.clips as f64,
    );
    single(
        o,
        "camvault_upload_failures_total",
        "counter",
        "Upload attempts that failed since start (most are retried).",
        extra.upload_failures as f64,
    );
    let q = &status.queue;
    single(
        o,
        "camvault_upload_queue_files",
        "gauge",
        "Files waiting for upload.",
        q.pending as f64,
    );
    single(
        o,
        "camvault_upload_queue_bytes",
        "gauge",
        "Bytes waiting for upload.",
        q.pending_bytes as f64,
    );
    single(
        o,
        "camvault_upload_failed_files",
        "gauge",
        "Uploads given up on (`upload retry-failed` retries them).",
        q.failed as f64,
    );
    single(
        o,
        "camvault_upload_oldest_pending_age_seconds",
        "gauge",
        "How long the oldest waiting file has waited.",
        q.oldest_pending_age_s.unwrap_or(0) as f64,
    );
    single(
        o,
        "camvault_card_written_bytes_per_day",
        "gauge",
        "What camvault writes to the card per day (card wear).",
        status.storage.written_per_day_bytes as f64,
    );
    single(
        o,
        "camvault_deleted_unuploaded_24h",
        "gauge",
        "Files deleted before upload in the last 24 h (the card was full).",
        status.storage.data_loss_24h as f64,
    );

    let mut f = family(
        o,
        "camvault_camera_state",
        "gauge",
        "1 for the state each camera is in.",
    );
    for (cam, s) in &status.cameras {
        for state in CameraState::ALL {
            let v = if s.state == state { 1.0 } else { 0.0 };
            f.sample(
                "camvault_camera_state",
                &[("camera", cam), ("state", state.as_str())],
                v,
            );
        }
    }
    per_camera(
        o,
        status,
        "camvault_camera_recording",
        "1 when the camera is recording.",
        "gauge",
        |s| f64::from(u8::from(s.state == CameraState::Recording)),
    );
    per_camera(
        o,
        status,
        "camvault_camera_fps",
        "Frames per second received.",
        "gauge",
        |s| s.fps,
    );
    per_camera(
        o,
        status,
        "camvault_camera_bitrate_bits_per_second",
        "Bit rate received.",
        "gauge",
        |s| s.bitrate_kbps * 1000.0,
    );
    per_camera(
        o,
        status,
        "camvault_camera_frame_loss_ratio",
        "Frames lost over frames expected.",
        "gauge",
        |s| s.frame_loss_percent / 100.0,
    );
    per_camera(
        o,
        status,
        "camvault_camera_missing_seconds_24h",
        "Seconds of the last 24 h without footage.",
        "gauge",
        |s| s.missing_seconds_24h as f64,
    );
    per_camera(
        o,
        status,
        "camvault_camera_restarts_total",
        "Recorder restarts since start.",
        "counter",
        |s| s.restarts as f64,
    );
    per_camera(
        o,
        status,
        "camvault_camera_stored_bytes",
        "Bytes of footage on the card.",
        "gauge",
        |s| s.bytes as f64,
    );
    per_camera(
        o,
        status,
        "camvault_camera_last_segment_timestamp_seconds",
        "When the last closed segment ended (Unix time).",
        "gauge",
        |s| s.last_segment_end.map_or(0.0, |t| t.timestamp() as f64),
    );

    let mut f = family(o, "camvault_alert", "gauge", "1 for each active alert.");
    for a in &status.alerts {
        let cam = a.camera.as_deref().unwrap_or("");
        f.sample(
            "camvault_alert",
            &[("code", a.code.as_str()), ("camera", cam)],
            1.0,
        );
    }
    let r = &status.relay;
    single(
        o,
        "camvault_relay_sent_total",
        "counter",
        "Files relayed to RTMP.",
        r.sent as f64,
    );
    single(
        o,
        "camvault_relay_failed_total",
        "counter",
        "Files the relay gave up on.",
        r.failed as f64,
    );
    single(
        o,
        "camvault_relay_pending_files",
        "gauge",
        "Files waiting to be relayed.",
        r.pending as f64,
    );
    if let Some(t) = status.temperature_c {
        single(
            o,
            "camvault_temperature_celsius",
            "gauge",
            "The SoC's temperature.",
            t,
        );
    }
    out
}
