//! The status page: one server-rendered HTML document, no script, readable on a phone. It
//! reloads itself every 30 s (a meta refresh, so it works with JavaScript off).

use std::fmt::Write;

use crate::health::{CameraState, Status};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn duration(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{:.1} h", s as f64 / 3600.0),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d1f23}\
header{background:#1d1f23;color:#fff;padding:12px 16px}header h1{font-size:1.2em;margin:0}\
header p{margin:4px 0 0;font-size:.85em;opacity:.8}main{padding:12px;display:grid;gap:12px;\
grid-template-columns:repeat(auto-fill,minmax(280px,1fr))}section{background:#fff;border-radius:8px;\
padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.1)}h2{font-size:1em;margin:0 0 8px}\
img{width:100%;aspect-ratio:16/9;object-fit:contain;background:#000;border-radius:4px}\
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:8px 0 0;font-size:.9em}\
dt{color:#666}dd{margin:0}.state{font-weight:bold}.recording{color:#12813a}\
.backoff,.stopped{color:#b3261e}.starting,.disabled{color:#7a5b00}\
.alert{border-left:4px solid #b3261e;padding-left:8px;margin:4px 0}.ok{color:#12813a}";

pub fn render(status: &Status) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"30\"><title>camvault {id}</title>\
         <style>{STYLE}</style></head><body><header><h1>camvault {id}</h1>\
         <p>version {version} · up {up}</p></header><main>",
        id = esc(&status.device_id),
        version = esc(&status.version),
        up = status.uptime_s.map_or("–".into(), |s| duration(s as i64)),
    );
    for (name, cam) in &status.cameras {
        let n = esc(name);
        let state = cam.state.as_str();
        let _ = write!(
            h,
            "<section class=\"camera\" id=\"camera-{n}\"><h2>{n}</h2>\
             <img src=\"/snapshot/{n}.jpg\" alt=\"latest picture from {n}\">\
             <dl><dt>state</dt><dd class=\"state {state}\">{state}</dd>"
        );
        if cam.state == CameraState::Recording {
            let _ = write!(
                h,
                "<dt>stream</dt><dd>{:.1} fps, {:.0} kbit/s</dd>",
                cam.fps, cam.bitrate_kbps
            );
        }
        let last = cam.last_segment_end.map_or("none yet".into(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        });
        let _ = write!(
            h,
            "<dt>last segment</dt><dd>{last}</dd><dt>stored</dt><dd>{} in {} segments</dd>\
             <dt>missing 24 h</dt><dd>{}</dd></dl></section>",
            bytes(cam.bytes as f64),
            cam.segments,
            duration(cam.missing_seconds_24h),
        );
    }
    let q = &status.queue;
    let _ = write!(
        h,
        "<section id=\"queue\"><h2>Upload queue</h2><dl><dt>waiting</dt><dd>{} files, {}</dd>\
         <dt>oldest</dt><dd>{}</dd><dt>uploading</dt><dd>{}</dd><dt>failed</dt><dd>{}</dd>\
         <dt>uploaded 24 h</dt><dd>{}</dd></dl></section>",
        q.pending,
        bytes(q.pending_bytes as f64),
        q.oldest_pending_age_s.map_or("–".into(), duration),
        q.uploading,
        q.failed,
        q.uploaded_24h,
    );
    h.push_str("<section id=\"alerts\"><h2>Alerts</h2>");
    if status.alerts.is_empty() {
        h.push_str("<p class=\"ok\">none</p>");
    }
    for a in &status.alerts {
        let _ = write!(
            h,
            "<p class=\"alert\"><b>{}</b> {}</p>",
            a.code.as_str(),
            esc(&a.message)
        );
    }
    h.push_str("</section><section id=\"storage\"><h2>Storage</h2><dl>");
    if let Some(d) = &status.disk {
        let _ = write!(
            h,
            "<dt>card</dt><dd>{:.0} % used, {} free of {}</dd>",
            d.used_percent,
            bytes(d.free_bytes as f64),
            bytes(d.total_bytes as f64)
        );
    }
    let s = &status.storage;
    let _ = write!(
        h,
        "<dt>card wear</dt><dd>{}/day written</dd><dt>deleted 24 h</dt><dd>{} ({} before upload)</dd>",
        bytes(s.written_per_day_bytes as f64),
        s.deleted_24h,
        s.data_loss_24h
    );
    if s.recording_paused {
        h.push_str("<dt>recording</dt><dd class=\"stopped\">paused: the card is full</dd>");
    }
    h.push_str("</dl></section></main></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            super::esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        assert_eq!(super::bytes(1536.0), "1.5 KiB");
        assert_eq!(super::duration(7300), "2.0 h");
    }
}
