//! The uploader against a real Garage (and a fault-injecting proxy of ours in front of it):
//! segments arrive byte-identical and once, kill -9 mid-upload resumes without re-sending a
//! committed part, a flaky server loses and duplicates nothing, the folder destination.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::Value;

use camvault::config::SourceKind;
use camvault::store::{SegmentEnd, SegmentState, Store};
use common::*;

fn md5_file(path: &Path) -> String {
    let out = std::process::Command::new("md5sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Writes `bytes` of pseudo-random data (incompressible, distinct per seed).
fn random_file(path: &Path, bytes: usize, seed: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(bytes);
    while data.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(bytes);
    std::fs::write(path, data).unwrap();
}

/// Puts files into the store as closed segments of camera `front`, as the recorder would.
fn queue_files(data: &Path, sizes: &[usize]) -> Vec<(String, PathBuf)> {
    std::fs::create_dir_all(data).unwrap();
    let store = Store::open(&data.join("camvault.db")).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 24, 14, 0, 0).unwrap();
    let mut out = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let start = t0 + chrono::Duration::minutes(10 * i as i64);
        let name = format!("front_{}.mp4", start.format("%Y-%m-%d_%H-%M-%S"));
        let rel = format!("recordings/front/2026-01-24/{name}");
        random_file(&data.join(&rel), size, 1000 + i as u64);
        let key = format!("2026/01/24/front/{name}");
        let r = rel.clone();
        store
            .blocking_write(move |db| {
                db.sync_cameras(&[("front".into(), SourceKind::Test, true)], t0)?;
                let end = SegmentEnd {
                    end: start + chrono::Duration::minutes(10),
                    duration_ms: 600_000,
                    bytes: size as i64,
                    state: SegmentState::Closed,
                };
                db.insert_closed_segment("front", &r, &end, start)
            })
            .unwrap();
        out.push((key, data.join(rel)));
    }
    store.close().unwrap();
    out
}

fn wait_uploaded(cfg: &Path, n: i64, timeout: Duration) {
    wait_for(&format!("{n} verified uploads"), timeout, || {
        status(cfg)["queue"]["uploaded_24h"].as_i64() >= Some(n)
    });
}

/// One `test:` camera cutting 10-s segments.
const TEST_CAMERA: &str =
    "[[camera]]\nname = \"front\"\nsource = \"test:\"\n[recording]\nsegment_seconds = 10\n";

/// Runs the daemon until `n` uploads are verified, stops it cleanly, and returns the done jobs.
fn record_until_uploaded(
    cfg: &Path,
    data: &Path,
    n: i64,
    timeout: Duration,
) -> Vec<camvault::store::Job> {
    let daemon = Daemon::start(cfg, data, &[]);
    wait_uploaded(cfg, n, timeout);
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    let store = Store::open_read_only(&data.join("camvault.db")).unwrap();
    let done = store
        .blocking_read(|db| db.jobs(&[camvault::store::JobState::Done]))
        .unwrap();
    assert!(done.len() as i64 >= n);
    done
}

/// The single job's UploadId and the part numbers the store has committed for it.
fn committed(db: &Path) -> (Option<String>, Vec<i64>) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let id: Option<String> = conn
        .query_row("SELECT upload_id FROM upload_job", [], |r| r.get(0))
        .unwrap_or(None);
    let mut stmt = conn
        .prepare("SELECT part_number FROM upload_part ORDER BY part_number")
        .unwrap();
    let parts = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (id, parts)
}

fn objects(garage: &Garage) -> Vec<(String, u64)> {
    garage
        .tool(&["list"])
        .lines()
        .map(|l| {
            let (k, s) = l.rsplit_once(' ').unwrap();
            (k.to_string(), s.parse().unwrap())
        })
        .collect()
}

#[test]
fn recorded_segments_reach_s3_byte_identical_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start(garage.port, 0);
    let data = dir.path().join("data");
    let extra = format!("{TEST_CAMERA}{}", garage.upload_section(proxy.port, ""));
    let cfg = config(dir.path(), &extra);
    let done = record_until_uploaded(&cfg, &data, 3, Duration::from_secs(60));
    let objs = objects(&garage);
    for job in &done {
        assert!(
            job.key
                .starts_with(&Utc::now().format("%Y/%m/%d/front/front_").to_string()),
            "key template: {}",
            job.key
        );
        let local = data.join(&job.path);
        let got: Vec<_> = objs.iter().filter(|(k, _)| *k == job.key).collect();
        assert_eq!(got.len(), 1, "{} is in the bucket once", job.key);
        assert_eq!(got[0].1, std::fs::metadata(&local).unwrap().len());
        assert_eq!(
            garage.tool(&["md5", &job.key]).trim(),
            md5_file(&local),
            "{} byte-identical",
            job.key
        );
        let puts = proxy
            .seen()
            .iter()
            .filter(|s| s.method == "PUT" && s.target.contains(job.key.rsplit('/').next().unwrap()))
            .count();
        assert_eq!(puts, 1, "{} was sent once", job.key);
    }
    assert_eq!(objs.len(), done.len(), "nothing else in the bucket");
}

#[test]
fn kill_9_during_a_300_mb_multipart_upload_never_resends_a_committed_part() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start(garage.port, 0);
    let data = dir.path().join("data");
    let files = queue_files(&data, &[300 * 1024 * 1024]);
    let (key, local) = files[0].clone();
    // 20 MiB/s: 15 s of sending, so the kills land all through the upload.
    let cfg = config(
        dir.path(),
        &garage.upload_section(
            proxy.port,
            "bandwidth_limit = \"20MiB/s\"\npart_size_mib = 8\nconcurrency = 2",
        ),
    );
    let db = data.join("camvault.db");
    let mut x: u64 = 0x1234_5678;
    let mut checkpoints = Vec::new();
    for _ in 0..20 {
        let daemon = Daemon::start(&cfg, &data, &[]);
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(300 + (x >> 33) % 900));
        daemon.signal(SIGKILL);
        let _ = daemon.wait(Duration::from_secs(5));
        checkpoints.push((Instant::now(), committed(&db)));
    }
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, 1, Duration::from_secs(120));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);

    assert_eq!(
        garage.tool(&["md5", &key]).trim(),
        md5_file(&local),
        "byte-identical after 20 kills"
    );
    assert_eq!(
        garage.tool(&["uploads"]).trim(),
        "",
        "no multipart upload left open"
    );
    let seen = proxy.seen();
    let mut resumed_with_parts = 0;
    for (at, (upload_id, parts)) in &checkpoints {
        let Some(upload_id) = upload_id else { continue };
        if !parts.is_empty() {
            resumed_with_parts += 1;
        }
        for s in seen.iter().filter(|s| {
            s.at > *at && s.method == "PUT" && s.target.contains(&format!("uploadId={upload_id}"))
        }) {
            let n: i64 = s
                .target
                .split("partNumber=")
                .nth(1)
                .and_then(|v| v.split('&').next())
                .and_then(|v| v.parse().ok())
                .unwrap();
            assert!(
                !parts.contains(&n),
                "part {n} was committed before a kill and sent again after it"
            );
        }
    }
    assert!(
        resumed_with_parts >= 5,
        "kills landed mid-upload: {resumed_with_parts}"
    );
    let part_puts = seen
        .iter()
        .filter(|s| s.method == "PUT" && s.target.contains("partNumber="))
        .count();
    eprintln!("{part_puts} part PUTs for 38 parts over 21 runs");
}

#[test]
fn a_flaky_server_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    // 20 % of requests fail, and the first 3 bodies arrive damaged: the checksums must make
    // the server refuse them, or the objects below would differ from the files.
    let proxy = FaultProxy::start_corrupting(garage.port, 200, 3);
    let data = dir.path().join("data");
    let files = queue_files(&data, &[100_000, 3 << 20, 9 << 20, 17 << 20, 26 << 20]);
    let cfg = config(
        dir.path(),
        &garage.upload_section(proxy.port, "part_size_mib = 5"),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, files.len() as i64, Duration::from_secs(180));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    let faults = proxy.seen().iter().filter(|s| s.fault.is_some()).count();
    eprintln!(
        "{faults} of {} requests failed on purpose",
        proxy.seen().len()
    );
    assert!(faults >= 5);
    let flips = proxy
        .seen()
        .iter()
        .filter(|s| s.fault == Some("flip"))
        .count();
    assert_eq!(flips, 3, "three bodies were damaged on the way");
    let objs = objects(&garage);
    assert_eq!(objs.len(), files.len(), "one object per file");
    for (key, local) in &files {
        assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local), "{key}");
        // Every body went with its CRC32C, which the server keeps: whole for a single PUT,
        // composite ("-N") over the 5 MiB parts of a multipart upload.
        let sum = garage.tool(&["checksum", key]).trim().to_string();
        let bytes = std::fs::metadata(local).unwrap().len();
        let parts = bytes.div_ceil(5 << 20);
        match bytes >= 5 << 20 {
            true => assert!(sum.ends_with(&format!("-{parts}")), "{key}: {sum}"),
            false => assert!(sum.len() == 8 && sum.ends_with("=="), "{key}: {sum}"),
        }
    }
    assert_eq!(garage.tool(&["uploads"]).trim(), "");
}

/// Keys holding a space, `+`, unicode and every sub-delimiter land at exactly those keys, by a
/// single PUT and by multipart (CreateMultipartUpload, parts, Complete, HEAD all sign them).
#[test]
fn keys_with_any_characters_land_byte_identical_at_exactly_that_key() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let data = dir.path().join("data");
    let files = queue_files(&data, &[200_000, 12 << 20]);
    let prefix = "odd +:=@,!()'*$&;[] \u{fc}";
    let cfg = config(
        dir.path(),
        &garage.upload_section(
            garage.port,
            &format!("part_size_mib = 5\nkey_template = \"{prefix}/{{camera}}/{{file}}\""),
        ),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, files.len() as i64, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    let mut want: Vec<String> = files
        .iter()
        .map(|(key, _)| format!("{prefix}/front/{}", key.rsplit('/').next().unwrap()))
        .collect();
    want.sort();
    let mut got: Vec<String> = objects(&garage).into_iter().map(|(k, _)| k).collect();
    got.sort();
    assert_eq!(got, want, "exactly these keys");
    for ((_, local), key) in files.iter().zip(&want) {
        assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local), "{key}");
        assert_eq!(garage.tool(&["type", key]).trim(), "video/mp4", "{key}");
    }
    let store = Store::open_read_only(&data.join("camvault.db")).unwrap();
    let mut stored: Vec<String> = store
        .blocking_read(|db| db.jobs(&[camvault::store::JobState::Done]))
        .unwrap()
        .into_iter()
        .map(|j| j.key)
        .collect();
    stored.sort();
    assert_eq!(stored, want, "the stored key is the rendered one");
}

/// A server that writes composite checksums without the `-N` part count: each object is
/// still verified and completed once, never uploaded again.
#[test]
fn composite_checksums_without_a_part_count_complete_each_object_once() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start_stripping_part_counts(garage.port);
    let data = dir.path().join("data");
    let files = queue_files(&data, &[12 << 20, 11 << 20]);
    let cfg = config(
        dir.path(),
        &garage.upload_section(proxy.port, "part_size_mib = 5"),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, files.len() as i64, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    let seen = proxy.seen();
    for (key, local) in &files {
        assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local), "{key}");
        let name = key.rsplit('/').next().unwrap();
        let creates = seen
            .iter()
            .filter(|s| {
                s.method == "POST" && s.target.contains(name) && s.target.contains("uploads")
            })
            .count();
        assert_eq!(creates, 1, "{key} was uploaded once");
    }
}

/// Two devices share a bucket and a key prefix. Each one's start-up sweep for abandoned
/// uploads leaves the other's upload in flight alone, and both finish.
#[test]
fn two_devices_sharing_a_prefix_never_abort_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start(garage.port, 0);
    let section = garage.upload_section(
        proxy.port,
        "part_size_mib = 5\nconcurrency = 1\nbandwidth_limit = \"4MiB/s\"\nkey_template = \"shared/{device}/{file}\"",
    );
    let mut daemons = Vec::new();
    let mut cfgs = Vec::new();
    for device in ["cam-a", "cam-b"] {
        let run_dir = dir.path().join(device);
        let data = run_dir.join("data");
        queue_files(&data, &[30 << 20]);
        let cfg = config(&run_dir, &section);
        // `CAMVAULT_DEVICE_ID` makes this a different device on the same config.
        let daemon = Daemon::start(&cfg, &data, &[("CAMVAULT_DEVICE_ID", device)]);
        // The second device starts (and sweeps) while the first one's upload is open.
        wait_for(
            &format!("{device} uploading"),
            Duration::from_secs(30),
            || {
                proxy
                    .seen()
                    .iter()
                    .any(|s| s.method == "PUT" && s.target.contains(&format!("/shared/{device}/")))
            },
        );
        daemons.push(daemon);
        cfgs.push((cfg, data));
    }
    for (cfg, _) in &cfgs {
        wait_uploaded(cfg, 1, Duration::from_secs(60));
    }
    for d in daemons {
        d.signal(SIGTERM);
        assert_eq!(d.wait(Duration::from_secs(10)).0, 0);
    }
    assert!(
        !proxy.seen().iter().any(|s| s.method == "DELETE"),
        "no upload was aborted"
    );
    for (device, (_, data)) in ["cam-a", "cam-b"].iter().zip(&cfgs) {
        let local = walk(&data.join("recordings"))[0].clone();
        let key = format!(
            "shared/{device}/{}",
            local.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            garage.tool(&["md5", &key]).trim(),
            md5_file(&local),
            "{key}"
        );
    }
}

/// An https endpoint whose certificate a private CA signed: refused with "unknown CA" in
/// `queue` until `upload.ca_file` names that CA, then uploaded byte-identical.
#[test]
fn a_private_ca_is_trusted_through_ca_file_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let tls = TlsProxy::start(&dir.path().join("tls"), garage.port);
    let data = dir.path().join("data");
    let files = queue_files(&data, &[1_000_000]);
    let https = garage
        .upload_section(tls.port, "")
        .replace("http://127.0.0.1", "https://127.0.0.1");
    let cfg = config(dir.path(), &https);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("the unknown CA in queue", Duration::from_secs(30), || {
        let q = cli_json(&cfg, &["queue", "--json"]);
        q.to_string().contains("unknown CA")
    });
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);

    let cfg = config(
        dir.path(),
        &format!("{https}ca_file = \"{}\"\n", tls.ca_pem.display()),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, 1, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    let (key, local) = &files[0];
    assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local));
}

/// A key that may write but not read (no HEAD): each upload is verified by the checksum the
/// server returned when it stored the object, and completes without a false failure.
#[test]
fn a_write_only_key_uploads_and_verifies_by_the_returned_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let (key_id, secret) = garage.write_only_key();
    let data = dir.path().join("data");
    let files = queue_files(&data, &[300_000, 12 << 20]);
    let section = garage
        .upload_section(garage.port, "part_size_mib = 5")
        .replace(&garage.key_id, &key_id)
        .replace(&garage.secret, &secret);
    let cfg = config(dir.path(), &section);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, files.len() as i64, Duration::from_secs(60));
    assert_eq!(status(&cfg)["queue"]["failed"], 0);
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    for (key, local) in &files {
        assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local), "{key}");
    }
}

/// A rotated secret in `secret_access_key_file` takes effect on SIGHUP, without a restart.
#[test]
fn sighup_rereads_the_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let data = dir.path().join("data");
    let files = queue_files(&data, &[200_000]);
    let secret_file = dir.path().join("s3.secret");
    write_secret(&secret_file, "NotTheSecret0123456789\n", 0o600);
    let section = garage.upload_section(garage.port, "").replace(
        &format!("secret_access_key = \"{}\"", garage.secret),
        &format!("secret_access_key_file = \"{}\"", secret_file.display()),
    );
    let cfg = config(dir.path(), &section);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for(
        "the job failed on the old secret",
        Duration::from_secs(60),
        || status(&cfg)["queue"]["failed"] == 1,
    );
    write_secret(&secret_file, &format!("{}\n", garage.secret), 0o600);
    daemon.signal(SIGHUP);
    wait_for("SIGHUP handled", Duration::from_secs(10), || {
        ask_socket(&data, b"{\"cmd\":\"status\"}\n")["ok"] == true
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = ask_socket(&data, b"{\"cmd\":\"upload\",\"action\":\"retry-failed\"}\n");
    assert_eq!(r["result"]["retrying"], 1, "{r}");
    wait_uploaded(&cfg, 1, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(log.contains("credentials re-read"), "{log}");
    assert!(!log.contains(&garage.secret), "no secret in the log");
    let (key, local) = &files[0];
    assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local));
}

#[test]
fn md5_mode_sends_content_md5_and_no_checksum_headers() {
    // For servers that refuse x-amz-checksum-* (Backblaze B2): Content-MD5 on every body, no
    // checksum header anywhere, and damaged bodies still refused.
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start_corrupting(garage.port, 0, 2);
    let data = dir.path().join("data");
    let files = queue_files(&data, &[200_000, 12 << 20]);
    let cfg = config(
        dir.path(),
        &garage.upload_section(proxy.port, "part_size_mib = 5\nchecksum = \"md5\""),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, files.len() as i64, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    for (key, local) in &files {
        assert_eq!(garage.tool(&["md5", key]).trim(), md5_file(local), "{key}");
    }
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .all(|s| !s.headers.iter().any(|h| h.starts_with("x-amz-checksum"))),
        "no checksum header was sent"
    );
    let puts: Vec<_> = seen.iter().filter(|s| s.method == "PUT").collect();
    assert!(
        puts.len() >= 4,
        "one PUT and three parts at least: {puts:?}"
    );
    assert!(
        puts.iter()
            .all(|s| s.headers.iter().any(|h| h == "content-md5")),
        "every body carried Content-MD5"
    );
    assert_eq!(garage.tool(&["uploads"]).trim(), "");
}

#[test]
fn the_folder_destination_gets_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bucket = dir.path().join("nas");
    let extra = format!(
        "{TEST_CAMERA}[upload]\ndestination = \"dir\"\ndir = \"{}\"\n",
        bucket.display()
    );
    let cfg = config(dir.path(), &extra);
    let done = record_until_uploaded(&cfg, &data, 2, Duration::from_secs(45));
    for job in &done {
        assert_eq!(
            md5_file(&bucket.join(&job.key)),
            md5_file(&data.join(&job.path)),
            "{}",
            job.key
        );
    }
    let stray: Vec<_> = walk(&bucket)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "no temporary files left: {stray:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn the_bandwidth_limit_holds_within_5_percent_over_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start(garage.port, 0);
    let data = dir.path().join("data");
    let size = 120 * 1024 * 1024;
    let files = queue_files(&data, &[size]);
    let cfg = config(
        dir.path(),
        &garage.upload_section(
            proxy.port,
            "bandwidth_limit = \"2MiB/s\"\npart_size_mib = 8\nconcurrency = 2",
        ),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, 1, Duration::from_secs(120));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    let seen = proxy.seen();
    let first = seen
        .iter()
        .find(|s| s.target.contains("partNumber="))
        .unwrap()
        .at;
    let complete = seen
        .iter()
        .find(|s| s.method == "POST" && s.target.contains("uploadId="))
        .unwrap()
        .at;
    let rate = size as f64 / (complete - first).as_secs_f64() / (1024.0 * 1024.0);
    eprintln!("{rate:.3} MiB/s over {:?}", complete - first);
    assert!(
        (1.9..=2.1).contains(&rate),
        "{rate:.3} MiB/s for a 2 MiB/s limit"
    );
    assert_eq!(
        garage.tool(&["md5", &files[0].0]).trim(),
        md5_file(&files[0].1)
    );
}

/// s3s-fs serving `root` (bucket `footage`) with one key pair; stopped on drop, so a failing
/// test leaves nothing running.
struct S3sFs {
    child: std::process::Child,
    port: u16,
}

impl S3sFs {
    fn start(root: &Path, key_id: &str, secret: &str) -> S3sFs {
        std::fs::create_dir_all(root.join("footage")).unwrap();
        let port = free_port();
        let child = std::process::Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", key_id, "--secret-key", secret])
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("s3s-fs (make test installs it)");
        wait_for("s3s-fs", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        S3sFs { child, port }
    }

    /// The `[upload]` section pointing camvault at it with these credentials, then `extra`.
    fn upload_section(&self, key_id: &str, secret: &str, extra: &str) -> String {
        format!(
            "[upload]\ndestination = \"s3\"\nendpoint = \"http://127.0.0.1:{}\"\nbucket = \"footage\"\naccess_key_id = \"{key_id}\"\nsecret_access_key = \"{secret}\"\n{extra}",
            self.port
        )
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The right key id with a wrong secret: the signature is refused, on Garage and on s3s-fs
/// alike. After a short grace the jobs fail with the reason and `upload_failed` is raised,
/// instead of staying pending for ever.
#[test]
fn a_wrong_secret_fails_with_the_reason_on_garage_and_s3s_fs() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let on_garage = garage
        .upload_section(garage.port, "")
        .replace(&garage.secret, "WrongSecret0123456789");
    let s3s = S3sFs::start(&dir.path().join("s3s"), "AKGOOD", "SKGOOD12345678");
    let on_s3s = s3s.upload_section("AKGOOD", "WrongSecret0123456789", "");
    for (server_name, section) in [("garage", on_garage), ("s3s-fs", on_s3s)] {
        let run_dir = dir.path().join(server_name);
        let data = run_dir.join("data");
        queue_files(&data, &[100_000, 100_000]);
        let cfg = config(&run_dir, &section);
        let daemon = Daemon::start(&cfg, &data, &[]);
        wait_for(
            &format!("both jobs failed on {server_name}"),
            Duration::from_secs(60),
            || status(&cfg)["queue"]["failed"] == 2,
        );
        wait_for(
            &format!("upload_failed raised on {server_name}"),
            Duration::from_secs(15),
            || {
                status(&cfg)["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["code"] == "upload_failed")
            },
        );
        let q = cli_json(&cfg, &["queue", "--json"]);
        let reason = q["failed"][0]["last_error"].as_str().unwrap().to_string();
        assert!(reason.contains("403"), "{server_name}: {reason}");
        assert!(!reason.contains("WrongSecret"), "no secret in the reason");
        daemon.signal(SIGTERM);
        assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    }
    drop(s3s);
}

/// A multipart upload to s3s-fs killed part-way resumes under the same UploadId and
/// completes byte-identical.
#[test]
fn a_resume_against_s3s_fs_completes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s3s");
    let s3s = S3sFs::start(&root, "AKRES", "SKRES12345678");
    let data = dir.path().join("data");
    let files = queue_files(&data, &[40 << 20]);
    let (key, local) = files[0].clone();
    let section = s3s.upload_section(
        "AKRES",
        "SKRES12345678",
        "part_size_mib = 5\nconcurrency = 1\n",
    );
    let slow = config(
        dir.path(),
        &format!("{section}bandwidth_limit = \"4MiB/s\"\n"),
    );
    let db = data.join("camvault.db");
    let daemon = Daemon::start(&slow, &data, &[]);
    wait_for("two parts committed", Duration::from_secs(30), || {
        committed(&db).1.len() >= 2
    });
    daemon.signal(SIGKILL);
    let _ = daemon.wait(Duration::from_secs(5));
    let (id_before, _) = committed(&db);
    assert!(id_before.is_some());

    let cfg = config(dir.path(), &section);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, 1, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    assert_eq!(
        md5_file(&root.join("footage").join(&key)),
        md5_file(&local),
        "byte-identical after the resume"
    );
    drop(s3s);
}

#[test]
fn a_clock_an_hour_off_is_corrected_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // s3s-fs refuses requests signed more than 15 minutes off (Garage does not).
    let root = dir.path().join("s3s");
    let s3s = S3sFs::start(&root, "AKSKEW", "SKSKEW12345678");
    let data = dir.path().join("data");
    let files = queue_files(&data, &[1_000_000, 2_000_000]);
    let extra = s3s.upload_section("AKSKEW", "SKSKEW12345678", "");
    let cfg = config(dir.path(), &extra);
    // Our clock an hour behind, as a Pi without RTC before NTP.
    let daemon = Daemon::start(&cfg, &data, &[("CV_TEST_CLOCK_SKEW_S", "3600")]);
    wait_uploaded(&cfg, 2, Duration::from_secs(60));
    wait_for("clock_unsynced raised", Duration::from_secs(15), || {
        status(&cfg)["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "clock_unsynced")
    });
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(log.contains("clock"), "the correction was logged: {log}");
    for (key, local) in &files {
        assert_eq!(
            md5_file(&root.join("footage").join(key)),
            md5_file(local),
            "{key}"
        );
    }
    drop(s3s);
}

#[test]
fn pause_resume_and_permanent_failures_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let data = dir.path().join("data");
    queue_files(&data, &[1_000_000, 1_000_000, 1_000_000]);
    // Slow enough that pausing visibly holds the queue.
    let good = garage.upload_section(garage.port, "bandwidth_limit = \"256KiB/s\"");
    // An unknown access key: refused for good, shown as failed with the reason.
    let bad = good.replace(&garage.key_id, "GK0000000000000000000000ff");
    let cfg = config(dir.path(), &bad);
    let daemon = Daemon::start(&cfg, &data, &[]);
    let queue = |cfg: &Path| -> Value {
        let r = run(camvault()
            .arg("--config")
            .arg(cfg)
            .args(["queue", "--json"]));
        serde_json::from_str(&r.stdout).unwrap()
    };
    wait_for("the jobs failed", Duration::from_secs(30), || {
        queue(&cfg)["failed"].as_array().unwrap().len() == 3
    });
    let q = queue(&cfg);
    let reason = q["failed"][0]["last_error"].as_str().unwrap().to_string();
    assert!(reason.contains("403"), "{reason}");
    assert!(!reason.contains(&garage.secret), "no secret in the reason");
    let r = ask_socket(&data, b"{\"cmd\":\"upload\",\"action\":\"retry-failed\"}\n");
    assert_eq!(r["result"]["retrying"], 3, "{r}");
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);

    // The right key, but paused: nothing goes until resumed.
    let cfg = config(dir.path(), &good);
    let daemon = Daemon::start(&cfg, &data, &[]);
    assert_eq!(
        ask_socket(&data, b"{\"cmd\":\"upload\",\"action\":\"pause\"}\n")["result"]["paused"],
        true
    );
    // The job under way when paused may finish; nothing starts after it.
    std::thread::sleep(Duration::from_secs(5));
    let before = status(&cfg)["queue"]["uploaded_24h"].as_i64().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let after = status(&cfg)["queue"]["uploaded_24h"].as_i64().unwrap();
    assert!(
        before == after && after < 3,
        "paused: {before} then {after} uploaded"
    );
    assert_eq!(
        ask_socket(&data, b"{\"cmd\":\"upload\",\"action\":\"resume\"}\n")["result"]["paused"],
        false
    );
    wait_uploaded(&cfg, 3, Duration::from_secs(60));
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

#[test]
fn clips_and_snapshots_jump_the_queue_and_their_presigned_urls_serve_them() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let data = dir.path().join("data");
    let extra = format!("{TEST_CAMERA}{}", garage.upload_section(garage.port, ""));
    let cfg = config(dir.path(), &extra);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_uploaded(&cfg, 1, Duration::from_secs(60));
    let ask = |args: &[&str]| cli_json(&cfg, args);
    // A clip of the past (no waiting) from within the last closed segment, and a snapshot.
    let segs = ask(&["segments", "--json"]);
    let last = segs.as_array().unwrap().last().unwrap().clone();
    let (s, e) = (
        last["start"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
        last["end"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
    );
    let mid = (s + (e - s) / 2).to_rfc3339();
    let clip = ask(&[
        "clip", "front", "--at", &mid, "--pre", "1", "--post", "1", "--json",
    ]);
    let snap = ask(&["snapshot", "front", "--json"]);
    for (v, prefix) in [(&clip, "clips/front/"), (&snap, "snapshots/front/")] {
        let key = v["key"].as_str().unwrap();
        assert!(key.starts_with(prefix), "{key}");
        let url = v["url"].as_str().expect("a presigned URL").to_string();
        assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=86400"));
        assert!(
            !url.contains(&garage.secret),
            "the secret key is not in the URL"
        );
        let local = data.join(v["path"].as_str().unwrap());
        let out = dir.path().join("fetched");
        wait_for(
            &format!("{key} served by its URL"),
            Duration::from_secs(30),
            || {
                let r = run(std::process::Command::new("curl")
                    .args(["-sf", "-o"])
                    .arg(&out)
                    .arg(&url));
                r.code == 0
            },
        );
        assert_eq!(md5_file(&out), md5_file(&local), "{key} byte-identical");
    }
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}
