//! Fuzzing every parser that takes outside bytes, on stable Rust: this toolchain has no
//! nightly (libFuzzer's sanitizer hooks need it), so each target runs under proptest's
//! `TestRunner` (which catches panics and shrinks the input that caused one) for a time
//! budget, on inputs that are a seed from the tests mutated a few times (bytes flipped,
//! inserted, deleted, duplicated, truncated, or one of the characters parsers split on),
//! or plain random bytes. The property is the one a hostile peer tests: no panic, and no
//! hang (the budget is wall time; a hang shows as a test that never ends).
//!
//! `FUZZ_SECONDS` per target: 2 by default, 20 in `make test`, 300 in `make fuzz`.
//! A crash found here becomes an example in the parser's own unit tests.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn budget() -> Duration {
    let s = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    Duration::from_secs(s)
}

/// Bytes parsers split on or choke at.
const PIVOTS: [u8; 16] = [
    0, 0xff, b'"', b'\n', b'[', b']', b'=', b'{', b'}', b'<', b'>', b'/', b'.', b'%', 0x7f, 0xc3,
];

fn mutate(seed: &[u8], edits: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for &(op, at, byte) in edits {
        let at = at % (v.len() + 1);
        match op % 6 {
            0 if at < v.len() => v[at] = byte,
            1 => v.insert(at, byte),
            2 if at < v.len() => {
                v.remove(at);
            }
            3 => v.truncate(at),
            4 => {
                let end = (at + usize::from(byte)).min(v.len());
                let chunk = v[at.min(end)..end].to_vec();
                v.splice(at..at, chunk);
            }
            _ => v.insert(at, PIVOTS[usize::from(byte) % PIVOTS.len()]),
        }
    }
    v
}

fn inputs(seeds: &[&[u8]]) -> impl Strategy<Value = Vec<u8>> + use<> {
    let seeds: Vec<Vec<u8>> = seeds.iter().map(|s| s.to_vec()).collect();
    let mutated = (
        prop::sample::select(seeds),
        prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..12),
    )
        .prop_map(|(seed, edits)| mutate(&seed, &edits));
    prop_oneof![
        4 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..600),
    ]
}

/// Runs `target` on generated inputs until the budget is spent; a panic fails the test with
/// the smallest input proptest could shrink it to.
fn fuzz(name: &str, seeds: &[&[u8]], target: impl Fn(&[u8])) {
    let deadline = Instant::now() + budget();
    let runs = std::cell::Cell::new(0u64);
    while Instant::now() < deadline {
        // A runner per round: each counts its cases once, and each draws a fresh seed.
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let r = runner.run(&inputs(seeds), |input| {
            target(&input);
            runs.set(runs.get() + 1);
            Ok(())
        });
        if let Err(e) = r {
            panic!("fuzz target {name}: {e}");
        }
    }
    eprintln!("fuzz target {name}: {} inputs, no panic", runs.get());
}

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[test]
fn fuzz_config_loader() {
    fuzz(
        "config",
        &[
            include_bytes!("../overlay/etc/camvault/camvault.toml"),
            b"[device]\nid = \"cv-1\"\n[[camera]]\nname = \"front\"\nsource = \"rtsp://u:p@10.0.0.2/s\"\n",
            b"[upload]\ndestination = \"s3\"\nendpoint = \"https://s3.example\"\nbucket = \"b\"\nkey_template = \"{yyyy}/{camera}/{file}\"\nbandwidth_schedule = \"Mon-08:00,1M Fri-18:00,off\"\n",
            b"[relay]\nenabled = true\n[ftp]\nenabled = true\nport = 2121\nmax_inbox_mib = 99999999999999999999\n",
        ],
        |b| {
            let _ = crate::config::load_str(&text(b), Path::new("/fuzz/camvault.toml"), &[]);
        },
    );
}

#[test]
fn fuzz_commands() {
    use crate::control::{Command, Request};
    fuzz(
        "commands",
        &[
            br#"{"command":"record","args":{"camera":"front","enabled":false},"request_id":7}"#,
            br#"{"command":"clip","args":{"camera":"front","at":"-5m","pre_s":10,"post_s":30}}"#,
            br#"{"command":"ota","args":{"url":"https://x/b","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","version":"1.2"}}"#,
            br#"{"camera":"front","reason":"doorbell"}"#,
        ],
        |b| {
            let _ = Request::decode(b);
            for name in Command::NAMES {
                let _ = Request::decode_named(name, b);
            }
        },
    );
}

#[test]
fn fuzz_ffmpeg_output() {
    fuzz(
        "ffmpeg output",
        &[
            b"frame=621",
            b"out_time_us=24853354\n",
            b"[segment @ 0x55] [info] Opening 'pipe:1' for writing",
            b"[rtsp @ 0x1] [warning] max delay reached. need to consume packet",
            b"front_2026-01-24_14-30-00.mp4,12.006484,22.006484\n",
            b"\"a,b.mp4\",0.0,1.5",
        ],
        |b| {
            let t = text(b);
            let _ = crate::media::progress::parse_line(&t);
            let _ = crate::media::args::parse_segment_line(&t);
        },
    );
}

#[test]
fn fuzz_fmp4_boxes() {
    fn bx(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut v = u32::try_from(8 + payload).unwrap().to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend(std::iter::repeat_n(kind[0], payload));
        v
    }
    let stream: Vec<u8> = [
        bx(b"ftyp", 16),
        bx(b"moov", 40),
        bx(b"moof", 24),
        bx(b"mdat", 64),
        bx(b"moof", 24),
        bx(b"mdat", 32),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.mp4");
    fuzz("fmp4 boxes", &[&stream, &stream[..100]], |b| {
        std::fs::write(&path, b).unwrap();
        for n in [1, 2, 5] {
            let _ = crate::media::fmp4::tail(&path, n);
        }
    });
}

#[test]
fn fuzz_file_names() {
    fuzz(
        "file names",
        &[
            b"front_2026-01-24_14-30-00.mp4",
            b"CAM01_20260122_103005.mp4",
            b"2026-01-22T10:30:05.mkv",
            b"10-30.mp4",
            b"clip_front_2026-01-24_14-30-00.mp4",
        ],
        |b| {
            let t = text(b);
            let _ = crate::relay::select::stamp_from_name(&t, Utc::now());
            let _ = crate::relay::select::is_video(&t);
            let _ = crate::recorder::layout::parse_name("front", &t);
            let _ = crate::recorder::layout::parse_media_name("front", &t);
        },
    );
}

#[test]
fn fuzz_s3_answers() {
    use crate::upload::s3::xml;
    fuzz(
        "S3 XML",
        &[
            b"<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag><Size>5</Size></Part></ListPartsResult>",
            b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key><UploadId>u</UploadId></Upload></ListMultipartUploadsResult>",
            b"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>xyz</UploadId></InitiateMultipartUploadResult>",
            b"<CompleteMultipartUploadResult><Key>k</Key><ETag>\"e-2\"</ETag><ChecksumCRC32C>AAAAAA==-2</ChecksumCRC32C></CompleteMultipartUploadResult>",
            b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>x</Message></Error>",
        ],
        |b| {
            let t = text(b);
            let _ = xml::completed(&t);
            let _ = xml::upload_id(&t);
            let _ = xml::parts_page(&t);
            let _ = xml::uploads_page(&t);
            let _ = crate::upload::S3Error::in_body(&t);
        },
    );
}

#[test]
fn fuzz_ws_discovery_and_soap() {
    use crate::discovery::onvif::{soap, wsd};
    let probe = wsd::probe("uuid:1", Some("dn:NetworkVideoTransmitter"));
    fuzz(
        "WS-Discovery and ONVIF SOAP",
        &[
            b"<e:Envelope xmlns:e=\"s\" xmlns:a=\"a\" xmlns:d=\"d\"><e:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/name/A%20B</d:Scopes><d:XAddrs>http://10.0.0.2/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>",
            b"<e:Envelope xmlns:e=\"s\"><e:Body><d:Bye xmlns:d=\"d\"><a:EndpointReference xmlns:a=\"a\"><a:Address>urn:uuid:9</a:Address></a:EndpointReference></d:Bye></e:Body></e:Envelope>",
            b"<s:Envelope xmlns:s=\"x\"><s:Body><tds:GetSystemDateAndTimeResponse><tt:UTCDateTime><tt:Time><tt:Hour>7</tt:Hour><tt:Minute>5</tt:Minute><tt:Second>9</tt:Second></tt:Time><tt:Date><tt:Year>2019</tt:Year><tt:Month>3</tt:Month><tt:Day>1</tt:Day></tt:Date></tt:UTCDateTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>",
            b"<s:Envelope><s:Body><trt:GetProfilesResponse><trt:Profiles token=\"main\"><tt:Name>Main</tt:Name></trt:Profiles></trt:GetProfilesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver20/media/wsdl</tds:Namespace><tds:XAddr>http://c/m2</tds:XAddr></tds:Service><tt:Uri>rtsp://c/1</tt:Uri></s:Body></s:Envelope>",
            b"<s:Envelope><s:Body><s:Fault><s:Reason><s:Text>Sender not Authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>",
            probe.as_bytes(),
        ],
        |b| {
            if let Ok(wsd::Message::ProbeMatches(eps)) = wsd::parse(b) {
                for ep in eps {
                    let _ = (ep.is_camera(), ep.scope("name"));
                }
            }
            if let Ok(body) = soap::body(b) {
                let _ = soap::system_date_and_time(&body);
                let _ = soap::device_information(&body);
                let _ = soap::media_service(&body);
                let _ = soap::profiles(&body);
                let _ = soap::stream_uri(&body);
            }
        },
    );
}

#[test]
fn fuzz_ota_inputs() {
    fuzz(
        "OTA manifest and offer",
        &[
            b"[update]\ncompatible=camvault-qemu-arm64\nversion=0.2.0+epoch.3\ndescription=x\n\n[bundle]\nformat=verity\nverity-hash=ab\n\n[image.rootfs]\nfilename=rootfs.ext4\n",
            br#"{"version":"0.2.0","url":"https://x/b.raucb","sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","release_url":"https://x"}"#,
        ],
        |b| {
            let t = text(b);
            if let Ok(m) = crate::ota::Manifest::parse(&t) {
                let running = crate::ota::Running {
                    compatible: "camvault-qemu-arm64".into(),
                    version: "0.1.0".into(),
                    highest_epoch: 1,
                };
                let _ = crate::ota::check(&m, &running, false);
            }
            if let Ok(offer) = serde_json::from_slice::<crate::ota::Offer>(b) {
                let _ = offer.validate();
            }
        },
    );
}

#[test]
fn fuzz_times_and_schedules() {
    let now = Utc::now();
    fuzz(
        "times and schedules",
        &[
            b"-5m",
            b"2026-01-24T14:30:00Z",
            b"-1h30m",
            b"08:00,512KiB/s 23:00,off",
            b"Mon-08:00,1M Fri-18:00,off",
        ],
        |b| {
            let t = text(b);
            let _ = crate::base::clock::parse_time(&t, now);
            let _ = crate::config::schedule::Schedule::parse(&t);
        },
    );
}
