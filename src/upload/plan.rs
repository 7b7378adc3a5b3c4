//! The multipart state machine as plain logic: part sizes, object keys, what to do with each
//! part after a restart, expected ETags, retry delays. No I/O here.

use std::time::Duration;

use base64::Engine;
use md5::{Digest, Md5};

use crate::store::PartRow;

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

pub use crate::store::keys::{priority, render_key};

/// The part of the template before its first placeholder: every key we write starts with it.
pub fn static_prefix(template: &str) -> &str {
    template.split('{').next().unwrap_or("")
}

/// A part as ListParts reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPart {
    pub number: i64,
    pub etag: String,
    pub size: i64,
    /// Base64 CRC32C, when the server keeps checksums (AWS, Garage ≥ 1.1).
    pub crc32c: Option<String>,
}

/// What a HEAD says about an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub etag: String,
    /// `x-amz-checksum-crc32c`: base64, with `-N` for a multipart object.
    pub crc32c: Option<String>,
}

/// What a restarted upload does with a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartPlan {
    /// Committed in the store and present on the server with the same ETag and size.
    Done,
    /// On the server but not committed (the commit was lost): adopt it if the server's CRC32C
    /// and size are those of our bytes, else send it again.
    Verify {
        etag: String,
        size: i64,
        crc32c: Option<String>,
    },
    /// Not on the server.
    Send,
}

/// Reconciles the store's committed parts with the server's ListParts.
pub fn reconcile(
    numbers: &[i64],
    stored: &[PartRow],
    server: &[ServerPart],
) -> Vec<(i64, PartPlan)> {
    numbers
        .iter()
        .map(|&n| {
            let on_server = server.iter().find(|s| s.number == n);
            let in_store = stored.iter().find(|p| p.number == n);
            let plan = match (in_store, on_server) {
                (Some(p), Some(s)) if same_etag(&p.etag, &s.etag) && p.size == s.size => {
                    PartPlan::Done
                }
                // A server whose ListParts gives no ETag: the committed part stands when the
                // size (and the CRC32C, if given) agree; Complete uses the stored ETag.
                (Some(p), Some(s))
                    if s.etag.trim_matches('"').is_empty()
                        && p.size == s.size
                        && s.crc32c
                            .as_ref()
                            .is_none_or(|c| same_checksum(c, &crc32c_b64(p.crc32c))) =>
                {
                    PartPlan::Done
                }
                (_, Some(s)) => PartPlan::Verify {
                    etag: s.etag.clone(),
                    size: s.size,
                    crc32c: s.crc32c.clone(),
                },
                (_, None) => PartPlan::Send,
            };
            (n, plan)
        })
        .collect()
}

/// The ETag under which a part the server holds but the store lost can be adopted as ours:
/// its size must match, and its CRC32C (or, in `md5` mode, its ETag) must be that of our
/// bytes. Anything less and the part is sent again.
pub fn adoptable(plan: &PartPlan, len: i64, crc: u32, md5_hex: Option<&str>) -> Option<String> {
    let PartPlan::Verify { etag, size, crc32c } = plan else {
        return None;
    };
    let ours = match (crc32c, md5_hex) {
        (Some(theirs), _) => *theirs == crc32c_b64(crc),
        (None, Some(md5)) => same_etag(etag, md5),
        (None, None) => false,
    };
    // Without an ETag the part cannot be named in CompleteMultipartUpload: send it again.
    let named = !etag.trim_matches('"').is_empty();
    (*size == len && ours && named).then(|| etag.clone())
}

pub fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"')
        .eq_ignore_ascii_case(b.trim_matches('"'))
}

/// Two checksums as servers write them mean the same: quotes aside, and a composite's `-N`
/// part count compared only when both carry one (some servers drop it, AWS keeps it).
pub fn same_checksum(a: &str, b: &str) -> bool {
    let split = |s: &str| {
        let s = s.trim().trim_matches('"');
        match s.rsplit_once('-') {
            Some((sum, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                (sum.to_string(), Some(n.to_string()))
            }
            _ => (s.to_string(), None),
        }
    };
    let ((sa, na), (sb, nb)) = (split(a), split(b));
    sa == sb && (na.is_none() || nb.is_none() || na == nb)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A CRC32C as S3 writes it: base64 of the big-endian bytes.
pub fn crc32c_b64(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// The checksum S3 gives a multipart object uploaded with CRC32C parts (a "composite"
/// checksum): the CRC32C of the parts' binary CRC32Cs, `-N`.
pub fn composite_crc32c(parts: &[u32]) -> String {
    let bytes: Vec<u8> = parts.iter().flat_map(|c| c.to_be_bytes()).collect();
    format!("{}-{}", crc32c_b64(crc32c::crc32c(&bytes)), parts.len())
}

/// The ETag S3 gives a completed multipart object: MD5 of the parts' binary MD5s, `-N`.
/// Computed from the ETags the server returned for the parts; `None` when they are not MD5s.
pub fn multipart_etag(part_etags: &[&str]) -> Option<String> {
    let mut h = Md5::new();
    for e in part_etags {
        let e = e.trim_matches('"');
        if e.len() != 32 {
            return None;
        }
        for i in 0..16 {
            h.update([u8::from_str_radix(&e[2 * i..2 * i + 2], 16).ok()?]);
        }
    }
    Some(format!("{}-{}", hex(&h.finalize()), part_etags.len()))
}

/// What the finished object must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub size: u64,
    /// Base64 CRC32C of the file (single PUT) or the composite of its parts (multipart).
    pub crc32c: String,
    /// The ETag, when it can be known before asking (multipart, from the parts' ETags).
    pub etag: Option<String>,
}

impl Expected {
    /// A single PUT; its ETag is known beforehand in `md5` mode (the MD5 of the bytes).
    pub fn single(size: u64, crc: u32, md5_hex: Option<String>) -> Expected {
        Expected {
            size,
            crc32c: crc32c_b64(crc),
            etag: md5_hex,
        }
    }

    pub fn multipart(size: u64, parts: &[PartRow]) -> Expected {
        let crcs: Vec<u32> = parts.iter().map(|p| p.crc32c).collect();
        let etags: Vec<&str> = parts.iter().map(|p| p.etag.as_str()).collect();
        Expected {
            size,
            crc32c: composite_crc32c(&crcs),
            etag: multipart_etag(&etags),
        }
    }

    /// After our own upload: whatever proof the server offers must agree (a server that
    /// keeps no checksum and gives no ETag is left with the size).
    pub fn confirmed_by(&self, h: &Head) -> bool {
        h.size == self.size
            && h.crc32c
                .as_ref()
                .is_none_or(|c| same_checksum(c, &self.crc32c))
            && (h.etag.is_empty() || self.etag.as_ref().is_none_or(|e| same_etag(e, &h.etag)))
    }

    /// Before sending: the object counts as already uploaded only when the server proves it
    /// holds our bytes.
    pub fn already_there(&self, h: &Head) -> bool {
        h.size == self.size
            && match &h.crc32c {
                Some(c) => same_checksum(c, &self.crc32c),
                None => self
                    .etag
                    .as_ref()
                    .is_some_and(|e| !h.etag.is_empty() && same_etag(e, &h.etag)),
            }
    }
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
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_list_parts_without_etags_does_not_block_a_resume() {
        let stored = [PartRow {
            number: 1,
            size: 5,
            crc32c: 7,
            etag: "\"e1\"".into(),
        }];
        let server = [
            ServerPart {
                number: 1,
                etag: String::new(),
                size: 5,
                crc32c: None,
            },
            ServerPart {
                number: 2,
                etag: String::new(),
                size: 5,
                crc32c: Some(crc32c_b64(9)),
            },
        ];
        let plans = reconcile(&[1, 2, 3], &stored, &server);
        assert_eq!(plans[0].1, PartPlan::Done);
        assert_eq!(
            adoptable(&plans[1].1, 5, 9, None),
            None,
            "unnamed: sent again"
        );
        assert_eq!(plans[2].1, PartPlan::Send);
    }

    #[test]
    fn checksums_compare_by_meaning() {
        assert!(same_checksum("AAAAAA==-3", "AAAAAA==-3"));
        assert!(same_checksum("AAAAAA==-3", "AAAAAA=="));
        assert!(same_checksum("\"AAAAAA==\"", "AAAAAA==-3"));
        assert!(!same_checksum("AAAAAA==-3", "AAAAAA==-4"));
        assert!(!same_checksum("AAAAAA==", "AAAAAB=="));
        assert!(same_checksum("wFTKFw==", "wFTKFw=="));
    }

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
            crc32c: 7,
            etag: format!("\"{etag}\""),
        };
        let part = |n: i64, etag: &str| ServerPart {
            number: n,
            etag: format!("\"{etag}\""),
            size: 10,
            crc32c: Some("AAAABw==".into()),
        };
        let stored = [row(1, "aa"), row(2, "bb"), row(4, "dd")];
        let server = [part(1, "aa"), part(2, "zz"), part(3, "cc")];
        let verify = |etag: &str| PartPlan::Verify {
            etag: format!("\"{etag}\""),
            size: 10,
            crc32c: Some("AAAABw==".into()),
        };
        let plan = reconcile(&[1, 2, 3, 4, 5], &stored, &server);
        assert_eq!(
            plan,
            [
                (1, PartPlan::Done),
                (2, verify("zz")),
                (3, verify("cc")),
                (4, PartPlan::Send),
                (5, PartPlan::Send),
            ]
        );
        assert_eq!(crc32c_b64(7), "AAAABw==");
        // Adopted only with proof: the CRC32C, or in md5 mode the ETag, and the size.
        assert_eq!(adoptable(&verify("zz"), 10, 7, None), Some("\"zz\"".into()));
        assert_eq!(adoptable(&verify("zz"), 10, 8, None), None);
        assert_eq!(adoptable(&verify("zz"), 11, 7, None), None);
        assert_eq!(adoptable(&PartPlan::Send, 10, 7, None), None);
        let md5_only = PartPlan::Verify {
            etag: "\"ab\"".into(),
            size: 10,
            crc32c: None,
        };
        assert_eq!(
            adoptable(&md5_only, 10, 0, Some("ab")),
            Some("\"ab\"".into())
        );
        assert_eq!(adoptable(&md5_only, 10, 0, Some("cd")), None);
        assert_eq!(adoptable(&md5_only, 10, 0, None), None);
    }

    #[test]
    fn checksums_and_etags_follow_s3_rules() {
        // The CRC32C check value of the standard test string.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_b64(0xE306_9283), "4waSgw==");
        // Garage answered "1Gi6Aw==-2" for two parts whose CRC32Cs were hzD+Ww== and pECVrw==.
        assert_eq!(composite_crc32c(&[0x8730_FE5B, 0xA440_95AF]), "1Gi6Aw==-2");
        // Two parts "a" and "b": md5(md5("a") ‖ md5("b")) with the part count.
        let a = hex(&Md5::digest(b"a"));
        let b = hex(&Md5::digest(b"b"));
        let e = multipart_etag(&[&format!("\"{a}\""), &b]).unwrap();
        assert!(e.ends_with("-2") && e.len() == 34, "{e}");
        assert_eq!(multipart_etag(&["not-an-md5"]), None);
    }

    #[test]
    fn an_object_is_ours_only_with_proof() {
        let want = Expected::single(10, 7, None);
        let head = |size, crc: Option<&str>, etag: &str| Head {
            size,
            etag: etag.into(),
            crc32c: crc.map(Into::into),
        };
        assert!(want.already_there(&head(10, Some("AAAABw=="), "\"x\"")));
        assert!(!want.already_there(&head(10, Some("AAAACA=="), "\"x\"")));
        assert!(!want.already_there(&head(9, Some("AAAABw=="), "\"x\"")));
        // No checksum and no known ETag: not proof enough to skip the upload...
        assert!(!want.already_there(&head(10, None, "\"x\"")));
        // ...but after our own PUT, a server without checksums is held to the size.
        assert!(want.confirmed_by(&head(10, None, "\"x\"")));
        assert!(!want.confirmed_by(&head(10, Some("AAAACA=="), "")));
        let mp = Expected {
            etag: Some("\"ab-2\"".into()),
            ..want
        };
        assert!(mp.already_there(&head(10, None, "ab-2")));
        assert!(!mp.confirmed_by(&head(10, None, "cd-2")));
    }

    #[test]
    fn retry_delays_are_capped_and_jittered() {
        assert!(retry_delay(1, 0) >= Duration::from_secs(1));
        assert!(retry_delay(30, 500) <= Duration::from_secs(750));
        assert_ne!(retry_delay(3, 1), retry_delay(3, 400));
    }
}
