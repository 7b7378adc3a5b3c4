//! The multipart state machine as plain logic: part sizes, object keys, what to do with each
//! part after a restart, expected ETags, retry delays. No I/O here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

use crate::store::{MediaKind, PartRow};

pub const MIB: u64 = 1024 * 1024;
pub const MIN_PART: u64 = 5 * MIB;
pub const MAX_PARTS: u64 = 10_000;

/// The configured part size, doubled until the file needs at most 10,000 parts.
pub fn part_size(file_bytes: u64, configured_mib: u32) -> u64 {
    let mut p = (u64::from(configured_mib) * MIB).max(MIN_PART);
    while file_bytes.div_ceil(p) > MAX_PARTS {
        p *= 2;
    }
    p
}

/// Files of at least one part go multipart; smaller ones are one PUT.
pub fn uses_multipart(file_bytes: u64, part_size: u64) -> bool {
    file_bytes >= part_size
}

/// (part number, offset, length) of every part.
pub fn parts(file_bytes: u64, part_size: u64) -> Vec<(i64, u64, u64)> {
    (0..file_bytes.div_ceil(part_size))
        .map(|i| {
            let off = i * part_size;
            (i as i64 + 1, off, part_size.min(file_bytes - off))
        })
        .collect()
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

/// The part of the template before its first placeholder: every key we write starts with it.
pub fn static_prefix(template: &str) -> &str {
    template.split('{').next().unwrap_or("")
}

/// What a restarted upload does with a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartPlan {
    /// Committed in the store and present on the server with the same ETag.
    Done,
    /// On the server but not in the store (the commit was lost): adopt it if its ETag is the
    /// MD5 of our bytes, else send it again.
    Verify { etag: String },
    /// Not (verifiably) on the server.
    Send,
}

/// Reconciles the store's committed parts with the server's ListParts.
pub fn reconcile(
    numbers: &[i64],
    stored: &[PartRow],
    server: &[(i64, String, i64)],
) -> Vec<(i64, PartPlan)> {
    numbers
        .iter()
        .map(|&n| {
            let on_server = server.iter().find(|(sn, _, _)| *sn == n);
            let in_store = stored.iter().find(|p| p.number == n);
            let plan = match (in_store, on_server) {
                (Some(p), Some((_, etag, size))) if same_etag(&p.etag, etag) && p.size == *size => {
                    PartPlan::Done
                }
                (_, Some((_, etag, _))) => PartPlan::Verify { etag: etag.clone() },
                (_, None) => PartPlan::Send,
            };
            (n, plan)
        })
        .collect()
}

pub fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"')
        .eq_ignore_ascii_case(b.trim_matches('"'))
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag S3 gives a completed multipart object: MD5 of the parts' binary MD5s, `-N`.
pub fn multipart_etag(part_md5_hex: &[String]) -> String {
    let mut h = Md5::new();
    for m in part_md5_hex {
        let bytes: Vec<u8> = (0..m.len() / 2)
            .filter_map(|i| u8::from_str_radix(&m[2 * i..2 * i + 2], 16).ok())
            .collect();
        h.update(&bytes);
    }
    format!("{}-{}", hex(&h.finalize()), part_md5_hex.len())
}

/// Capped exponential backoff with jitter for a job's next attempt (attempts so far ≥ 1).
pub fn retry_delay(attempts: i64, jitter_seed: u64) -> Duration {
    let base = 2u64.saturating_pow(attempts.clamp(1, 16) as u32).min(600);
    // ±25 % so a fleet of appliances does not retry in lockstep.
    let spread = (jitter_seed % 501) as f64 / 1000.0 - 0.25;
    Duration::from_secs_f64(base as f64 * (1.0 + spread)).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn part_sizes_grow_to_stay_under_10000_parts() {
        assert_eq!(part_size(100 * MIB, 8), 8 * MIB);
        assert_eq!(part_size(100 * MIB, 1), 5 * MIB, "at least 5 MiB");
        let huge = 200 * 1024 * MIB;
        let p = part_size(huge, 8);
        assert!(huge.div_ceil(p) <= MAX_PARTS && huge.div_ceil(p / 2) > MAX_PARTS);
        let ps = parts(20 * MIB + 1, 8 * MIB);
        assert_eq!(
            ps,
            [
                (1, 0, 8 * MIB),
                (2, 8 * MIB, 8 * MIB),
                (3, 16 * MIB, 4 * MIB + 1)
            ]
        );
        assert!(uses_multipart(8 * MIB, 8 * MIB) && !uses_multipart(8 * MIB - 1, 8 * MIB));
    }

    #[test]
    fn keys_from_the_template() {
        let t = Utc.with_ymd_and_hms(2026, 1, 24, 14, 30, 0).unwrap();
        let k = render_key(
            "{yyyy}/{mm}/{dd}/{camera}/{file}",
            "cv-1",
            "front",
            t,
            "front_2026-01-24_14-30-00.mp4",
        );
        assert_eq!(k, "2026/01/24/front/front_2026-01-24_14-30-00.mp4");
        assert_eq!(
            render_key("{device}/{hh}/{file}", "cv-1", "front", t, "x.mp4"),
            "cv-1/14/x.mp4"
        );
        assert_eq!(static_prefix("cams/{device}/{file}"), "cams/");
        assert_eq!(static_prefix("{yyyy}/{file}"), "");
    }

    #[test]
    fn reconciling_after_a_restart() {
        let row = |n: i64, etag: &str| PartRow {
            number: n,
            size: 10,
            md5_hex: etag.into(),
            etag: format!("\"{etag}\""),
        };
        let stored = [row(1, "aa"), row(2, "bb"), row(4, "dd")];
        let server = [
            (1, "\"aa\"".to_string(), 10),
            (2, "\"zz\"".to_string(), 10),
            (3, "\"cc\"".to_string(), 10),
        ];
        let plan = reconcile(&[1, 2, 3, 4, 5], &stored, &server);
        assert_eq!(
            plan,
            [
                (1, PartPlan::Done),
                (
                    2,
                    PartPlan::Verify {
                        etag: "\"zz\"".into()
                    }
                ),
                (
                    3,
                    PartPlan::Verify {
                        etag: "\"cc\"".into()
                    }
                ),
                (4, PartPlan::Send),
                (5, PartPlan::Send),
            ]
        );
    }

    #[test]
    fn multipart_etag_matches_s3s_rule() {
        // Two parts "a" and "b": md5(md5("a") ‖ md5("b")) with the part count.
        let e = multipart_etag(&[md5_hex(b"a"), md5_hex(b"b")]);
        assert!(e.ends_with("-2") && e.len() == 34, "{e}");
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn retry_delays_are_capped_and_jittered() {
        assert!(retry_delay(1, 0) >= Duration::from_secs(1));
        assert!(retry_delay(30, 500) <= Duration::from_secs(750));
        assert_ne!(retry_delay(3, 1), retry_delay(3, 400));
    }
}
