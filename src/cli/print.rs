//! Human-readable and JSON output of the listing commands.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Failure;
use crate::health::{RelayState, Status};
use crate::store::{Job, SegmentRow};

pub fn json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(Failure::runtime)?;
    println!("{text}");
    Ok(())
}

pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{m}m{s:02}s")
    }
}

pub fn status(s: &Status) {
    let who = match s.uptime_s {
        Some(up) => format!("daemon running, up {}", duration(up)),
        None => "daemon not running (state from the store)".to_string(),
    };
    println!("camvault {} v{}: {who}", s.device_id, s.version);
    if let Some(d) = &s.disk {
        println!(
            "disk {}: {} free of {} ({:.1}% used)",
            d.path.display(),
            bytes(d.free_bytes as i64),
            bytes(d.total_bytes as i64),
            d.used_percent
        );
    }
    let st = &s.storage;
    let store_rate = st
        .store_written_per_day_bytes
        .map_or("-".to_string(), |b| bytes(b as i64));
    println!(
        "card: {}/day written (media {} in 24 h, store {}/day); deleted in 24 h: {} ({}), {} before upload",
        bytes(st.written_per_day_bytes),
        bytes(st.media_written_24h_bytes),
        store_rate,
        st.deleted_24h,
        bytes(st.deleted_bytes_24h),
        st.data_loss_24h
    );
    if st.recording_paused {
        println!("RECORDING PAUSED: the disk is full (on_disk_full = \"stop-recording\")");
    }
    let q = &s.queue;
    println!(
        "uploads: {} pending ({}), {} in flight, {} failed, {} done in 24 h",
        q.pending,
        bytes(q.pending_bytes),
        q.uploading,
        q.failed,
        q.uploaded_24h
    );
    let r = &s.relay;
    if r.state != RelayState::Disabled {
        println!(
            "relay: {}{}, {} pending, {} sent, {} failed",
            r.state,
            r.current_file
                .as_ref()
                .map_or(String::new(), |f| format!(" ({f})")),
            r.pending,
            r.sent,
            r.failed
        );
    }
    for a in &s.alerts {
        let severity = serde_json::to_value(a.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_uppercase))
            .unwrap_or_default();
        println!("{severity} {}: {}", a.code, a.message);
    }
    if s.cameras.is_empty() {
        println!("no cameras configured");
        return;
    }
    println!(
        "{:<16} {:<10} {:>8} {:>10} {:>8} {:>11}  last segment end",
        "camera", "state", "segments", "size", "restarts", "missing 24h"
    );
    for (name, c) in &s.cameras {
        let state = serde_json::to_value(c.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        // "stopped (off)": a camera someone switched off, not one that failed.
        let state = if c.record || state == "disabled" {
            state
        } else {
            format!("{state} (off)")
        };
        println!(
            "{name:<16} {state:<10} {:>8} {:>10} {:>8} {:>11}  {}",
            c.segments,
            bytes(c.bytes),
            c.restarts,
            format!("{} s", c.missing_seconds_24h),
            time(c.last_segment_end)
        );
        if let Some(f) = &c.current_file {
            println!("{:<16} writing {f}", "");
        }
    }
}

pub fn segments(rows: &[SegmentRow]) {
    if rows.is_empty() {
        println!("no segments");
        return;
    }
    println!(
        "{:<12} {:<10} {:<20} {:>9} {:>10} {:<11} {:<9} path (key)",
        "camera", "kind", "start", "duration", "size", "state", "upload"
    );
    for r in rows {
        let dur = r
            .duration_ms
            .map_or("-".to_string(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        println!(
            "{:<12} {:<10} {:<20} {:>9} {:>10} {:<11} {:<9} {}{}",
            r.camera,
            r.kind.as_str(),
            time(Some(r.start)),
            dur,
            r.bytes.map_or("-".to_string(), bytes),
            r.state.as_str(),
            r.upload.map_or("-", |u| u.as_str()),
            r.path,
            r.key.as_ref().map_or(String::new(), |k| format!(" ({k})"))
        );
    }
}

#[derive(Serialize)]
pub struct Queue {
    pub destination: &'static str,
    pub pending: Vec<Job>,
    pub in_flight: Vec<Job>,
    pub failed: Vec<Job>,
}

pub fn queue(q: &Queue) {
    if q.destination == "none" {
        println!("uploads are off (upload.destination = \"none\")");
        return;
    }
    let total: i64 = q
        .pending
        .iter()
        .chain(&q.in_flight)
        .map(|j| j.bytes - j.bytes_done)
        .sum();
    println!("destination: {}", q.destination);
    println!(
        "pending:   {} ({} to send)",
        q.pending.len() + q.in_flight.len(),
        bytes(total)
    );
    println!("in flight: {}", q.in_flight.len());
    println!("failed:    {}", q.failed.len());
    for j in &q.in_flight {
        println!(
            "  uploading {}  {} / {}",
            j.key,
            bytes(j.bytes_done),
            bytes(j.bytes)
        );
    }
    for j in &q.pending {
        let retry = j
            .last_error
            .as_deref()
            .map(|e| format!("  (retry #{}: {e})", j.attempts))
            .unwrap_or_default();
        println!("  pending   {}  {}{retry}", j.key, bytes(j.bytes));
    }
    for j in &q.failed {
        println!(
            "  failed    {}  {}",
            j.key,
            j.last_error.as_deref().unwrap_or("?")
        );
    }
}

/// `discover` as a list a person reads: what was found, and for ONVIF cameras their streams
/// or why there are none.
pub fn discovered(found: &Value) -> String {
    use std::fmt::Write;
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let list = |k: &str| found[k].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    let onvif = list("onvif");
    let _ = writeln!(out, "ONVIF cameras: {}", onvif.len());
    for c in &onvif {
        let _ = writeln!(
            out,
            "  {}  {} {}  {}  {}",
            text(&c["name"]),
            text(&c["manufacturer"]),
            text(&c["model"]),
            text(&c["address"]),
            text(&c["urn"])
        );
        for s in c["streams"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "    {} ({}): {}",
                text(&s["profile"]),
                text(&s["name"]),
                text(&s["uri"])
            );
        }
        if let Some(e) = c["error"].as_str() {
            let _ = writeln!(out, "    no streams: {e}");
        }
    }
    let v4l2 = list("v4l2");
    let _ = writeln!(out, "V4L2 devices: {}", v4l2.len());
    for d in &v4l2 {
        let formats: Vec<String> = d["formats"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| text(&f["fourcc"]))
            .collect();
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            text(&d["device"]),
            text(&d["name"]),
            formats.join(" ")
        );
    }
    let rtsp = list("rtsp");
    let _ = writeln!(out, "RTSP services (mDNS): {}", rtsp.len());
    for r in &rtsp {
        let _ = writeln!(out, "  {}  {}", text(&r["name"]), text(&r["uri"]));
    }
    out
}
