//! The storage lifecycle on real files with real ffmpeg: snapshots and event clips cut from
//! the live recording, disk watermarks on a small real filesystem, and kill -9 during
//! eviction followed by start-up reconciliation.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use common::*;

fn closed(segs: &[Value]) -> Vec<&Value> {
    segs.iter().filter(|s| s["state"] == "closed").collect()
}

fn rtsp_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    config(
        dir,
        &format!(
            "[recording]\nsegment_seconds = 10\nfragment_seconds = 1\n\n\
             [[camera]]\nname = \"front\"\nsource = \"rtsp://127.0.0.1:{port}/stream\"\n\n{extra}"
        ),
    )
}

/// (pts seconds, md5 of the data) of every video packet, in file order.
fn packets(path: &Path) -> Vec<(f64, String)> {
    let args = [
        "-select_streams",
        "v:0",
        "-show_packets",
        "-show_data_hash",
        "MD5",
        "-show_entries",
        "packet=pts_time,data_hash",
        "-of",
        "csv=p=0",
    ];
    ffprobe(path, &args)
        .lines()
        .filter_map(|l| {
            let (pts, hash) = l.split_once(',')?;
            Some((pts.parse().ok()?, hash.to_string()))
        })
        .collect()
}

fn dimensions(path: &Path) -> String {
    let args = [
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height",
        "-of",
        "csv=s=x:p=0",
    ];
    ffprobe(path, &args).trim().to_string()
}

#[test]
fn snapshot_and_clip_come_from_the_live_recording() {
    let dir = tempfile::tempdir().unwrap();
    // Snow: every frame differs, so every packet can be found again by its hash.
    let cam = RtspCamera::start_with(free_port(), None, &["--pattern", "snow"]);
    let cfg = rtsp_config(dir.path(), cam.port, "");
    let data = dir.path().join("data");
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("two closed segments", Duration::from_secs(60), || {
        closed(&segments(&cfg)).len() >= 2
    });

    // Snapshot: a JPEG at the camera's resolution, within 2 s.
    let t0 = Instant::now();
    let snap = cli_json(&cfg, &["snapshot", "front", "--json"]);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(2), "snapshot took {took:?}");
    let jpg = data.join(snap["path"].as_str().unwrap());
    let bytes = std::fs::read(&jpg).unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    assert_eq!(dimensions(&jpg), "640x360");
    assert!(
        jpg.starts_with(data.join("snapshots/front/")),
        "the CLI prints the absolute path: {jpg:?}"
    );

    // A clip for "now": 10 s before, 30 s after.
    let at = Utc::now();
    let clip = cli_json(&cfg, &["clip", "front", "--at", &at.to_rfc3339(), "--json"]);
    let mp4 = data.join(clip["path"].as_str().unwrap());
    let (duration, _) = probe(&mp4).expect("the clip plays");
    assert!((duration - 40.0).abs() <= 1.0, "clip lasts {duration} s");
    assert!(mp4.starts_with(data.join("clips/front/")), "{mp4:?}");

    // Where does it start? Find its first shown frame among the recorded segments by hash.
    wait_for(
        "the window recorded and closed",
        Duration::from_secs(30),
        || {
            closed(&segments(&cfg))
                .last()
                .is_some_and(|s| time(&s["end"]) > at + chrono::Duration::seconds(31))
        },
    );
    let segs = segments(&cfg);
    let mut recorded: Vec<(DateTime<Utc>, String)> = Vec::new();
    for s in closed(&segs) {
        let start = time(&s["start"]);
        let pk = packets(&data.join(s["path"].as_str().unwrap()));
        let first = pk.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        for (pts, hash) in pk {
            let at = start + chrono::Duration::microseconds(((pts - first) * 1e6) as i64);
            recorded.push((at, hash));
        }
    }
    let index: HashMap<&str, usize> = recorded
        .iter()
        .enumerate()
        .map(|(i, (_, h))| (h.as_str(), i))
        .collect();
    let clip_packets = packets(&mp4);
    let shown = clip_packets
        .iter()
        .filter(|p| p.0 >= -0.001)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    let i = index[shown.1.as_str()];
    let shown_at = recorded[i].0;
    let off = (shown_at - (at - chrono::Duration::seconds(10))).num_milliseconds() as f64 / 1000.0;
    assert!(off.abs() <= 1.0, "the clip starts {off} s from at − 10");

    // Across the segment boundaries: the clip's packets are one unbroken run of the recording.
    let first = index[clip_packets[0].1.as_str()];
    let run: Vec<&str> = recorded[first..]
        .iter()
        .take(clip_packets.len())
        .map(|(_, h)| h.as_str())
        .collect();
    let got: Vec<&str> = clip_packets.iter().map(|(_, h)| h.as_str()).collect();
    assert_eq!(got, run, "no packet lost or doubled at a boundary");
    let boundaries = closed(&segs)
        .iter()
        .filter(|s| {
            let t = time(&s["start"]);
            t > at - chrono::Duration::seconds(10) && t < at + chrono::Duration::seconds(30)
        })
        .count();
    assert!(
        boundaries >= 3,
        "a 40 s clip of 10 s segments spans boundaries"
    );

    let (code, log) = stop(daemon);
    assert_eq!(code, 0, "{log}");
}

/// A small real filesystem (tmpfs) for `data_dir`, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, mib: u32) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            st.success(),
            "mounting a {mib} MiB tmpfs for the disk-pressure test failed (the test needs root)"
        );
        SmallDisk {
            path: path.to_path_buf(),
        }
    }

    fn used_percent(&self) -> f64 {
        let out = Command::new("df")
            .args(["--output=pcent"])
            .arg(&self.path)
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        s.lines()
            .last()
            .unwrap()
            .trim()
            .trim_end_matches('%')
            .parse()
            .unwrap()
    }

    fn size(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=size", "-B1"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Fills the disk up to `percent` with a file that is not camvault's.
    fn fill_to(&self, percent: f64) -> PathBuf {
        let filler = self.path.join("filler.bin");
        let want = (self.size() as f64 * percent / 100.0) as u64;
        let now = (self.size() as f64 * self.used_percent() / 100.0) as u64;
        let add = want.saturating_sub(now);
        std::fs::write(&filler, vec![0xA5u8; add as usize]).unwrap();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Every closed row has its file, every deleted row has none.
fn assert_consistent(data: &Path) {
    let db =
        Connection::open_with_flags(data.join("camvault.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = db
        .prepare("SELECT path, state, delete_reason FROM segment")
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (path, state, reason) in rows {
        let exists = data.join(&path).exists();
        match state.as_str() {
            "closed" if reason.is_none() => assert!(exists, "{path}: closed but missing"),
            "deleted" => assert!(!exists, "{path}: deleted but still on disk"),
            _ => {}
        }
    }
}

#[test]
fn disk_watermarks_evict_oldest_first_or_pause_recording() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let disk = SmallDisk::mount(&data, 24);
    let cam = RtspCamera::start(free_port(), None);

    // delete-oldest: un-uploaded footage goes, oldest first, each loss reported.
    let retention = "[retention]\ndisk_warn_percent = 50\ndisk_critical_percent = 60\non_disk_full = \"delete-oldest\"\n";
    let cfg = rtsp_config(dir.path(), cam.port, retention);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("four closed segments", Duration::from_secs(80), || {
        closed(&segments(&cfg)).len() >= 4
    });
    let before = closed(&segments(&cfg))
        .iter()
        .map(|s| s["path"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let filler = disk.fill_to(57.0);
    // The next segment pushes the disk over critical.
    wait_for("eviction", Duration::from_secs(90), || {
        status(&cfg)["storage"]["data_loss_24h"]
            .as_i64()
            .unwrap_or(0)
            > 0
    });
    // Evicted to under the warn mark (50 %); recording goes on, so allow a segment more.
    let used = status(&cfg)["disk"]["used_percent"].as_f64().unwrap();
    assert!(used < 57.0, "still {used} % used after eviction");
    let segs = segments(&cfg);
    let deleted: Vec<&str> = segs
        .iter()
        .filter(|s| s["state"] == "deleted")
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert!(!deleted.is_empty());
    assert_eq!(
        deleted,
        before[..deleted.len()]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "oldest first"
    );
    assert!(
        daemon.log().contains("not uploaded yet"),
        "data loss is reported"
    );
    assert_consistent(&data);
    let (code, log) = stop(daemon);
    assert_eq!(code, 0, "{log}");
    std::fs::remove_file(&filler).unwrap();

    // stop-recording: nothing un-uploaded is deleted; recording pauses, then resumes.
    let retention = "[retention]\ndisk_warn_percent = 50\ndisk_critical_percent = 60\non_disk_full = \"stop-recording\"\n";
    let cfg = rtsp_config(dir.path(), cam.port, retention);
    let daemon = Daemon::start(&cfg, &data, &[]);
    let kept = closed(&segments(&cfg)).len();
    let filler = disk.fill_to(65.0);
    wait_for("recording paused", Duration::from_secs(90), || {
        let st = status(&cfg);
        st["storage"]["recording_paused"] == true && st["cameras"]["front"]["state"] == "stopped"
    });
    assert!(
        closed(&segments(&cfg)).len() >= kept,
        "nothing un-uploaded deleted"
    );
    std::fs::remove_file(&filler).unwrap();
    wait_for("recording resumed", Duration::from_secs(90), || {
        let st = status(&cfg);
        st["storage"]["recording_paused"] == false && st["cameras"]["front"]["state"] == "recording"
    });
    assert_consistent(&data);
    let (code, log) = stop(daemon);
    assert_eq!(code, 0, "{log}");
}

/// A store of `n` closed one-hour-old segments with small real files, and no camera running.
fn fixture(data: &Path, n: usize) {
    use camvault::config::SourceKind;
    use camvault::store::{SegmentEnd, SegmentState, Store};
    std::fs::create_dir_all(data).unwrap();
    let store = Store::open(&data.join("camvault.db")).unwrap();
    let now = Utc::now();
    store
        .blocking_write(move |db| db.sync_cameras(&[("front".into(), SourceKind::Test, true)], now))
        .unwrap();
    let day = data.join("recordings/front/2026-01-01");
    std::fs::create_dir_all(&day).unwrap();
    for i in 0..n {
        let name = format!(
            "front_2026-01-01_{:02}-{:02}-{:02}.mp4",
            i / 3600,
            i / 60 % 60,
            i % 60
        );
        std::fs::write(day.join(&name), vec![7u8; 4096]).unwrap();
        let rel = format!("recordings/front/2026-01-01/{name}");
        let start = now - chrono::Duration::hours(1) - chrono::Duration::seconds((n - i) as i64);
        let end = SegmentEnd {
            end: start + chrono::Duration::seconds(1),
            duration_ms: 1000,
            bytes: 4096,
            state: SegmentState::Closed,
        };
        store
            .blocking_write(move |db| db.insert_closed_segment("front", &rel, &end, start))
            .unwrap();
    }
    store.close().unwrap();
}

#[test]
fn kill_9_during_eviction_then_startup_reconciles_store_and_disk() {
    const FILES: usize = 3000;
    let mut interrupted = 0;
    for run_no in 0..6u64 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fixture(&data, FILES);
        // Thresholds against the real usage of this filesystem: it is above 2 %, so
        // everything is evicted (no destination: each eviction is a reported loss).
        let cfg = config(
            dir.path(),
            "[retention]\ndisk_warn_percent = 1\ndisk_critical_percent = 2\n",
        );
        let daemon = Daemon::start(&cfg, &data, &[]);
        wait_for("eviction to start", Duration::from_secs(20), || {
            daemon.log().contains("retention: deleting")
        });
        // Pseudo-random moments spread over the eviction.
        std::thread::sleep(Duration::from_millis((run_no * 37) % 120));
        daemon.signal(SIGKILL);
        let _ = daemon.wait(Duration::from_secs(10));
        assert_consistent(&data);
        let on_disk = std::fs::read_dir(data.join("recordings/front/2026-01-01"))
            .unwrap()
            .count();
        if on_disk > 0 && on_disk < FILES {
            interrupted += 1;
        }

        // Restart without disk pressure: start-up finishes what was marked, deletes no more.
        let cfg = config(
            dir.path(),
            "[retention]\ndisk_warn_percent = 98\ndisk_critical_percent = 99\n",
        );
        let daemon = Daemon::start(&cfg, &data, &[]);
        wait_for("reconciliation", Duration::from_secs(20), || {
            let db = Connection::open_with_flags(
                data.join("camvault.db"),
                OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.query_row(
                "SELECT count(*) FROM segment WHERE delete_reason IS NOT NULL AND state != 'deleted'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 0
        });
        let (code, log) = stop(daemon);
        assert_eq!(code, 0, "{log}");
        assert_consistent(&data);
        let db = Connection::open(data.join("camvault.db")).unwrap();
        let closed: i64 = db
            .query_row(
                "SELECT count(*) FROM segment WHERE state = 'closed'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let files = std::fs::read_dir(data.join("recordings/front/2026-01-01"))
            .unwrap()
            .count() as i64;
        assert_eq!(
            closed, files,
            "run {run_no}: every file has its row and no more"
        );
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} kills landed mid-eviction"
    );
}

fn stop(daemon: Daemon) -> (i32, String) {
    daemon.signal(SIGTERM);
    daemon.wait(Duration::from_secs(10))
}

/// Fills the disk with a file that is not camvault's, a MiB at a time, until it is full.
fn fill_completely(dir: &Path) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler-full.bin");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0x5Au8; 1 << 20];
    while f.write_all(&chunk).is_ok() {}
    // The last partial chunk, down to the last block.
    let _ = f.write_all(&chunk[..4096]);
    let _ = f.sync_all();
    filler
}

fn integrity_ok(data: &Path) {
    let db =
        Connection::open_with_flags(data.join("camvault.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let r: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(r, "ok");
}

/// Recording has priority over everything else on the card. On a 64 MiB card with two
/// cameras: a 2 GB FTP upload is cut off (and its partial file removed) before it can stop
/// recording; a foreign file that fills the card to 100 % makes retention evict (the space
/// reserve gives its journal room), and both cameras record again within 30 s.
#[test]
fn a_full_card_never_stops_recording_for_long() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let disk = SmallDisk::mount(&data, 64);
    let ftp = free_port();
    let pasv = free_port();
    let cfg = config(
        dir.path(),
        &format!(
            "[[camera]]\nname = \"a\"\nsource = \"test:\"\n[[camera]]\nname = \"b\"\nsource = \"test:\"\n\
             [recording]\nsegment_seconds = 10\n\
             [retention]\ndisk_warn_percent = 70\ndisk_critical_percent = 85\n\
             [ftp]\nenabled = true\nlisten = \"127.0.0.1:{ftp}\"\npassive_ports = \"{pasv}-{pasv}\"\n\
             users = [{{ name = \"cam1\", password = \"FtpPass77\" }}]\n"
        ),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    let both_recording = || {
        let st = status(&cfg);
        st["cameras"]["a"]["state"] == "recording" && st["cameras"]["b"]["state"] == "recording"
    };
    wait_for(
        "both cameras recording",
        Duration::from_secs(60),
        both_recording,
    );
    wait_for("a closed segment each", Duration::from_secs(60), || {
        let segs = recorded_of(&segments(&cfg));
        segs.iter().any(|s| s.0 == "a") && segs.iter().any(|s| s.0 == "b")
    });

    // 2 GB over FTP, more than 30 times the card.
    let started = Utc::now();
    let mut curl = Command::new("curl")
        .args(["-sS", "-T", "-"])
        .arg(format!("ftp://cam1:FtpPass77@127.0.0.1:{ftp}/huge.mp4"))
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = curl.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..2048 {
            if stdin.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let out = curl.wait_with_output().unwrap();
    let _ = feeder.join();
    assert!(!out.status.success(), "the upload was cut off");
    assert!(
        !data.join("inbox").join("huge.mp4").exists(),
        "its partial file is gone"
    );
    integrity_ok(&data);
    // Recording went on: each camera's segments since the upload began join up.
    std::thread::sleep(Duration::from_secs(12));
    let segs = recorded_of(&segments(&cfg));
    for cam in ["a", "b"] {
        let mut mine: Vec<&(String, DateTime<Utc>, DateTime<Utc>)> = segs
            .iter()
            .filter(|s| s.0 == cam && s.2 > started)
            .collect();
        mine.sort_by_key(|s| s.1);
        assert!(!mine.is_empty(), "{cam} closed a segment during the upload");
        for w in mine.windows(2) {
            let gap = (w[1].1 - w[0].2).num_seconds();
            assert!(gap <= 10, "{cam}: a gap of {gap} s at {}", w[0].2);
        }
    }

    // A foreign file fills the card to the last block.
    let filler = fill_completely(&data);
    let filled_at = Utc::now();
    let t = Instant::now();
    // Recording again within 30 s: a segment that started then has closed 10 s later.
    wait_for(
        "a new segment of each camera",
        Duration::from_secs(40),
        || {
            let segs = recorded_of(&segments(&cfg));
            ["a", "b"].iter().all(|cam| {
                segs.iter().any(|s| {
                    s.0 == *cam
                        && s.1 > filled_at
                        && s.1 < filled_at + chrono::Duration::seconds(30)
                })
            })
        },
    );
    eprintln!(
        "both cameras recorded again within {:?} of the card filling",
        t.elapsed()
    );
    assert!(
        status(&cfg)["storage"]["data_loss_24h"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "retention evicted footage to make room"
    );
    integrity_ok(&data);
    drop(std::fs::remove_file(filler));
    let (code, log) = stop(daemon);
    assert_eq!(code, 0, "{log}");
    integrity_ok(&data);
    drop(disk);
}

/// (camera, start, end) of every segment recorded to its end, evicted ones included.
fn recorded_of(segs: &[Value]) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    segs.iter()
        .filter(|s| s["state"] == "closed" || s["state"] == "deleted")
        .filter_map(|s| {
            Some((
                s["camera"].as_str()?.to_string(),
                s["start"].as_str()?.parse().ok()?,
                s["end"].as_str()?.parse().ok()?,
            ))
        })
        .collect()
}
