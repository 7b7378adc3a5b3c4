//! The recorder against real ffmpeg and the GStreamer RTSP camera: segments that play and
//! join up, a camera that goes away and comes back, kill -9 recovery, a quick clean stop.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use common::*;

const CANARY: &str = "Canary7731";

fn of_camera<'a>(segs: &'a [Value], cam: &str) -> Vec<&'a Value> {
    segs.iter()
        .filter(|s| s["camera"] == cam && s["state"] == "closed")
        .collect()
}

fn camera_block(name: &str, source: &str) -> String {
    format!("[[camera]]\nname = \"{name}\"\nsource = \"{source}\"\n")
}

#[test]
fn three_cameras_record_playable_contiguous_segments() {
    three_cameras(None);
}

/// The same with the lean static ffmpeg the image ships (`scripts/lean-ffmpeg.sh`).
#[test]
fn the_lean_ffmpeg_records_the_same_three_cameras() {
    three_cameras(Some(lean_ffmpeg()));
}

fn three_cameras(ffmpeg: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cam1 = RtspCamera::start(free_port(), Some(("admin", CANARY)));
    let cam2 = RtspCamera::start(free_port(), None);
    let extra = format!(
        "{}{}{}[recording]\nsegment_seconds = 10\nffmpeg = \"{}\"\n",
        camera_block("door", &cam1.url()),
        camera_block("yard", &cam2.url()),
        camera_block("synthetic", "test:"),
        ffmpeg.unwrap_or("ffmpeg")
    );
    let cfg = config(dir.path(), &extra);
    let daemon = Daemon::start(&cfg, &data, &[("RUST_LOG", "trace")]);

    wait_for(
        "four full segments per camera",
        Duration::from_secs(90),
        || {
            let segs = segments(&cfg);
            ["door", "yard", "synthetic"]
                .iter()
                .all(|c| of_camera(&segs, c).len() >= 5)
        },
    );
    // Neither camvault's nor any ffmpeg's command line carries the password (any local user
    // can read them in /proc). The test's own camera server is given it, so it is skipped.
    let program = format!("{}\0", ffmpeg.unwrap_or("ffmpeg"));
    let mut ffmpegs = 0;
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline"))
            && (cmd.starts_with(program.as_bytes())
                || p.file_name() == daemon.pid().to_string().as_str())
        {
            assert!(
                !cmd.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
                "password on the command line of pid {:?}",
                p.file_name()
            );
            ffmpegs += usize::from(cmd.starts_with(program.as_bytes()));
        }
    }
    // All three cameras copy, so all three record with the configured ffmpeg.
    assert!(ffmpegs >= 3, "the recording ffmpegs were looked at");
    let st = status(&cfg);
    for cam in ["door", "yard", "synthetic"] {
        let c = &st["cameras"][cam];
        assert_eq!(c["state"], "recording", "{cam}: {c}");
        assert!(c["fps"].as_f64().unwrap() > 20.0, "{cam} fps: {c}");
        assert!(
            c["bitrate_kbps"].as_f64().unwrap() > 100.0,
            "{cam} bitrate: {c}"
        );
        // The figure is the stream's as received: the camera servers, these recordings and
        // the other tests share two cores, and a busy moment costs a few percent.
        assert!(
            c["frame_loss_percent"].as_f64().unwrap() < 10.0,
            "{cam} loss: {c}"
        );
    }
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0);

    let segs = segments(&cfg);
    for cam in ["door", "yard", "synthetic"] {
        let list = of_camera(&segs, cam);
        let mut prev: Option<(DateTime<Utc>, f64)> = None;
        let mut middle = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let path = data.join(s["path"].as_str().unwrap());
            let (duration, video) =
                probe(&path).unwrap_or_else(|| panic!("{} does not play", path.display()));
            let last = i == list.len() - 1;
            if i > 0 && !last {
                // Cut on the camera's keyframes (a 2 s GOP) at the wall clock's :x0: a
                // keyframe arriving within scheduling jitter of the boundary moves one cut by
                // one GOP, and the next segment gives it back (see the closing note).
                assert!(
                    (duration - 10.0).abs() <= 2.1,
                    "{cam} segment {i}: {duration} s"
                );
                middle.push(duration);
            }
            let start = time(&s["start"]);
            if let Some((pstart, pvideo)) = prev {
                let gap = (start - pstart).num_microseconds().unwrap() as f64 / 1e6 - pvideo;
                assert!(
                    gap.abs() <= 0.041,
                    "{cam}: {gap:.3} s between segment {} and {i}",
                    i - 1
                );
            }
            prev = Some((start, video));
        }
        middle.sort_by(f64::total_cmp);
        let median = middle[middle.len() / 2];
        assert!(
            (median - 10.0).abs() <= 0.5,
            "{cam}: segment durations {middle:?}"
        );
    }
    // The canary password is nowhere: not in the log, the status, the index, the database.
    assert!(!log.contains(CANARY), "password in the log");
    assert!(
        log.contains("ffmpeg"),
        "ffmpeg's output was logged at trace level"
    );
    assert!(
        !serde_json::to_string(&status(&cfg))
            .unwrap()
            .contains(CANARY)
    );
    assert!(!serde_json::to_string(&segs).unwrap().contains(CANARY));
    for f in std::fs::read_dir(&data).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with("camvault.db") {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(
                !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
                "password in {:?}",
                f.file_name()
            );
        }
    }
}

#[test]
fn a_camera_that_goes_away_backs_off_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cam = RtspCamera::start(free_port(), None);
    let cfg = config(dir.path(), &camera_block("door", &cam.url()));
    let daemon = Daemon::start(&cfg, &data, &[]);
    let state = |cfg: &Path| {
        status(cfg)["cameras"]["door"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    wait_for("recording", Duration::from_secs(20), || {
        state(&cfg) == "recording"
    });

    let missing = |cfg: &Path| {
        status(cfg)["cameras"]["door"]["missing_seconds_24h"]
            .as_i64()
            .unwrap()
    };
    let missing_before = missing(&cfg);
    assert!(
        missing_before <= 5,
        "only the start is missing: {missing_before} s"
    );
    cam.kill();
    let away = Instant::now();
    let t = Instant::now();
    wait_for(
        "backoff after the camera died",
        Duration::from_secs(10),
        || state(&cfg) == "backoff",
    );
    eprintln!("backoff after {:?}", t.elapsed());
    // Stay away long enough for the backoff to grow past 5 s.
    std::thread::sleep(Duration::from_secs(12));
    cam.resume();
    let t = Instant::now();
    wait_for("recording again within 5 s", Duration::from_secs(5), || {
        state(&cfg) == "recording"
    });
    eprintln!("recording again after {:?}", t.elapsed());
    // The gap telemetry counts the time away (the fragment lost at the kill included).
    let (gap, away) = (
        missing(&cfg) - missing_before,
        away.elapsed().as_secs() as i64,
    );
    eprintln!("gap telemetry: {gap} s missing for {away} s away");
    assert!(
        gap >= away - 3 && gap <= away + 3,
        "{gap} s missing for {away} s away"
    );
    let restarts = status(&cfg)["cameras"]["door"]["restarts"]
        .as_u64()
        .unwrap();
    assert!(restarts >= 2, "restarts counted: {restarts}");

    // The record command stops and starts the camera.
    let sock = data.join("camvault.sock");
    let ask = |line: &str| {
        use std::io::{BufRead, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.write_all(line.as_bytes()).unwrap();
        let mut r = String::new();
        std::io::BufReader::new(&s).read_line(&mut r).unwrap();
        serde_json::from_str::<Value>(&r).unwrap()
    };
    assert_eq!(
        ask("{\"cmd\":\"record\",\"camera\":\"door\",\"enabled\":false}\n")["ok"],
        true
    );
    wait_for("stopped by command", Duration::from_secs(10), || {
        state(&cfg) == "stopped"
    });
    assert_eq!(
        ask("{\"cmd\":\"record\",\"camera\":\"nope\",\"enabled\":true}\n")["ok"],
        false
    );
    assert_eq!(
        ask("{\"cmd\":\"record\",\"camera\":\"door\",\"enabled\":true}\n")["ok"],
        true
    );
    wait_for(
        "recording after the command",
        Duration::from_secs(10),
        || state(&cfg) == "recording",
    );
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

#[test]
fn kill_9_mid_segment_loses_at_most_a_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cam = RtspCamera::start(free_port(), None);
    let cfg = config(
        dir.path(),
        &format!(
            "{}[recording]\nsegment_seconds = 10\n",
            camera_block("door", &cam.url())
        ),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("two closed segments", Duration::from_secs(40), || {
        of_camera(&segments(&cfg), "door").len() >= 2
    });
    std::thread::sleep(Duration::from_millis(4500));
    let killed_at = Utc::now();
    daemon.signal(SIGKILL);
    let _ = daemon.wait(Duration::from_secs(5));
    // ffmpeg dies with its parent: nothing keeps writing into the folder.
    wait_for("ffmpeg gone", Duration::from_secs(5), || {
        !std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*data.to_string_lossy()))
        })
    });
    let before = of_camera(&segments(&cfg), "door").len();

    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for(
        "the interrupted segment registered at start-up",
        Duration::from_secs(10),
        || of_camera(&segments(&cfg), "door").len() > before,
    );
    let segs = segments(&cfg);
    let closed = of_camera(&segs, "door");
    let last = closed
        .iter()
        .filter(|s| time(&s["start"]) < killed_at)
        .max_by_key(|s| time(&s["start"]))
        .unwrap();
    let (duration, _) =
        probe(&data.join(last["path"].as_str().unwrap())).expect("the interrupted segment plays");
    let lost = (killed_at - time(&last["end"])).num_milliseconds() as f64 / 1000.0;
    eprintln!("interrupted segment: {duration:.2} s playable, {lost:.2} s lost");
    assert!(lost <= 2.0, "lost {lost:.2} s (fragment_seconds 1 + 1 s)");
    // Whatever was unplayable is kept aside, not deleted.
    for s in segs.iter().filter(|s| s["state"] == "quarantined") {
        assert!(data.join(s["path"].as_str().unwrap()).exists());
    }
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

#[test]
fn sigterm_with_eight_cameras_is_quick_and_finalizes_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cams: String = (1..=8)
        .map(|i| camera_block(&format!("t{i}"), "test:"))
        .collect();
    let cfg = config(dir.path(), &cams);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("eight cameras recording", Duration::from_secs(40), || {
        let st = status(&cfg);
        (1..=8).all(|i| st["cameras"][format!("t{i}")]["state"] == "recording")
    });
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    daemon.signal(SIGTERM);
    let (code, _) = daemon.wait(Duration::from_secs(20));
    let took = t.elapsed();
    eprintln!("stopped in {took:?}");
    assert_eq!(code, 0);
    assert!(took <= Duration::from_secs(5), "took {took:?}");
    let segs = segments(&cfg);
    let mut files = Vec::new();
    for cam in 1..=8 {
        let dir = data.join(format!("recordings/t{cam}"));
        for day in std::fs::read_dir(&dir).unwrap().flatten() {
            files.extend(
                std::fs::read_dir(day.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path()),
            );
        }
    }
    assert!(files.len() >= 8);
    for f in &files {
        let rel = f
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            segs.iter()
                .any(|s| s["path"] == rel && s["state"] == "closed"),
            "{rel} not registered"
        );
        assert!(probe(f).is_some(), "{rel} does not play");
    }
}

/// Pids of processes whose command line mentions `needle`.
fn pids_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let pid: i32 = p.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(p.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmd)
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

#[test]
fn a_stalled_ffmpeg_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), &camera_block("frozen", "test:"));
    let daemon = Daemon::start(&cfg, &data, &[]);
    let state = |cfg: &Path| status(cfg)["cameras"]["frozen"].clone();
    wait_for("recording", Duration::from_secs(20), || {
        state(&cfg)["state"] == "recording"
    });
    let ffmpeg = pids_with(&data.join("recordings").to_string_lossy());
    assert_eq!(ffmpeg.len(), 1, "one ffmpeg per camera");
    // SIGSTOP: alive, holding its pipes open, making no progress.
    assert_eq!(unsafe { libc_kill19(ffmpeg[0]) }, 0);
    wait_for(
        "the stall noticed and ffmpeg replaced",
        Duration::from_secs(40),
        || {
            let s = state(&cfg);
            s["state"] == "recording" && s["restarts"].as_u64() >= Some(1)
        },
    );
    let now = pids_with(&data.join("recordings").to_string_lossy());
    assert!(
        now.len() == 1 && now[0] != ffmpeg[0],
        "the stopped ffmpeg was killed and reaped: {now:?}"
    );
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

unsafe fn libc_kill19(pid: i32) -> i32 {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    unsafe { kill(pid, 19) }
}
