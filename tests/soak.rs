//! The soak: the daemon for `SOAK_MINUTES` (default 120) with 8 RTSP cameras, uploads to Garage
//! through a proxy that fails 20 % of requests (500, 503, or a reset mid-body), the broker
//! restarted every 5 minutes and the camera server killed every 7 (both intervals scaled down
//! for runs shorter than an hour, so a short slice still sees each fault). It samples RSS and
//! open fds every 30 s and reports them, the footage missing per camera (the gap telemetry),
//! uploads done once, and alerts raised and cleared, to `target/soak-report.txt`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const CAMERAS: usize = 8;

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn mean(v: &[u64]) -> f64 {
    v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
}

#[test]
fn soak_eight_cameras_through_faults() {
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let total = Duration::from_secs(minutes * 60);
    // Real intervals for an hour or more; a short slice compresses them.
    let scale = (minutes as f64 / 60.0).min(1.0);
    let broker_every = Duration::from_secs_f64((300.0 * scale).max(30.0));
    let camera_every = Duration::from_secs_f64((420.0 * scale).max(45.0));
    let camera_away = Duration::from_secs(10);
    eprintln!(
        "soak: {minutes} min, broker restarted every {broker_every:?}, cameras killed every {camera_every:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let garage = Garage::start(&dir.path().join("garage"));
    let proxy = FaultProxy::start(garage.port, 200);
    let mut broker = Broker::start(dir.path(), None);
    // One shared encoder for all eight (the server's media is shared), at a light bitrate.
    let mut camera =
        RtspCamera::start_with(free_port(), None, &["--size", "320x240", "--kbps", "300"]);
    let mut extra = format!(
        "[recording]\nsegment_seconds = 60\n\n{}\n\
         [mqtt]\nurl = \"mqtt://{BROKER_USER}:{BROKER_PASS}@127.0.0.1:{}\"\nhealth_interval_seconds = 5\n",
        garage.upload_section(proxy.port, ""),
        broker.port
    );
    for i in 0..CAMERAS {
        extra += &format!(
            "\n[[camera]]\nname = \"cam{i}\"\nsource = \"{}\"\n",
            camera.url()
        );
    }
    let cfg = config(dir.path(), &extra);
    let daemon = Daemon::start(&cfg, &data, &[]);
    let pid = daemon.pid();
    wait_for("all cameras recording", Duration::from_secs(60), || {
        let s = status(&cfg);
        (0..CAMERAS).all(|i| s["cameras"][format!("cam{i}")]["state"] == "recording")
    });

    let start = Instant::now();
    let (mut next_broker, mut next_camera) = (broker_every, camera_every);
    let mut next_sample = Duration::ZERO;
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    let (mut broker_restarts, mut camera_kills) = (0, 0);
    let mut camera_down = Duration::ZERO;
    while start.elapsed() < total {
        let now = start.elapsed();
        if now >= next_sample {
            samples.push((now.as_secs(), rss_kib(pid), fds(pid)));
            next_sample += Duration::from_secs(30);
        }
        if now >= next_broker {
            broker.kill();
            std::thread::sleep(Duration::from_secs(2));
            broker.resume();
            broker_restarts += 1;
            next_broker += broker_every;
        }
        if now >= next_camera {
            let t = Instant::now();
            camera.kill();
            std::thread::sleep(camera_away);
            camera.resume();
            camera_down += t.elapsed();
            camera_kills += 1;
            next_camera += camera_every;
        }
        assert!(
            !daemon_exited(&daemon),
            "the daemon exited during the soak:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // Let the last camera kill heal before judging.
    std::thread::sleep(Duration::from_secs(20));
    let s = status(&cfg);

    let mut report = vec![format!(
        "soak: {minutes} min, {CAMERAS} cameras, 20 % upload faults, broker restarted {broker_restarts}x, camera server killed {camera_kills}x ({:.0?} down in all)",
        camera_down
    )];
    report.push("t_s rss_kib fds".into());
    report.extend(samples.iter().map(|(t, r, f)| format!("{t} {r} {f}")));

    // Flat: the last quarter's RSS within 20 % (and 8 MiB) of the second quarter's, fds
    // within 8 of it (the first quarter is warm-up: caches, the uploader's pool).
    let q = samples.len() / 4;
    let (early, late) = (
        &samples[q..2 * q.max(1)],
        &samples[samples.len() - q.max(1)..],
    );
    let rss = |s: &[(u64, u64, usize)]| mean(&s.iter().map(|x| x.1).collect::<Vec<_>>());
    let fd = |s: &[(u64, u64, usize)]| s.iter().map(|x| x.2).max().unwrap_or(0);
    report.push(format!(
        "RSS {:.1} MiB (second quarter) -> {:.1} MiB (last quarter); fds max {} -> {}",
        rss(early) / 1024.0,
        rss(late) / 1024.0,
        fd(early),
        fd(late)
    ));

    // Gaps: the footage each camera misses, against the time its server was away.
    let mut gaps = BTreeMap::new();
    for i in 0..CAMERAS {
        let c = &s["cameras"][format!("cam{i}")];
        gaps.insert(
            format!("cam{i}"),
            c["missing_seconds_24h"].as_i64().unwrap(),
        );
    }
    report.push(format!("footage missing per camera (s): {gaps:?}"));

    // Uploads: every acknowledged completion once.
    let completed = proxy.completions();
    let twice = completed.values().filter(|n| **n > 1).count();
    let faults = proxy.seen().iter().filter(|x| x.fault.is_some()).count();
    report.push(format!(
        "uploads: {} objects completed, {twice} twice; {} requests, {faults} failed on purpose; queue {}",
        completed.len(),
        proxy.seen().len(),
        s["queue"]
    ));

    // Alerts, from the daemon's log.
    let log = daemon.log();
    let mut alerts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for line in log.lines() {
        let raised = line.contains("alert.raised");
        if !raised && !line.contains("alert.cleared") {
            continue;
        }
        let code = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("code="))
            .unwrap_or("?")
            .to_string();
        let e = alerts.entry(code).or_default();
        if raised {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    report.push(format!(
        "alerts (raised, cleared): {alerts:?}; raised now: {}",
        s["alerts"]
    ));
    let text = report.join("\n") + "\n";
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/soak-report.txt");
    std::fs::write(&out, &text).unwrap();
    eprintln!("{text}");

    assert_eq!(twice, 0, "uploads completed twice");
    assert!(
        rss(late) <= rss(early) * 1.2 + 8192.0,
        "RSS grew: {:.0} -> {:.0} KiB",
        rss(early),
        rss(late)
    );
    assert!(fd(late) <= fd(early) + 8, "fds grew");
    // Each kill costs its time away, the fragment in flight, and either the reconnect or,
    // when ffmpeg hangs on the dead server instead of exiting, the 20 s stall detection (the
    // 2-hour run measured 27 s per kill beyond the time away).
    let allowed = camera_down.as_secs() as i64 + 35 * camera_kills + 15;
    for (cam, gap) in &gaps {
        assert!(
            *gap <= allowed,
            "{cam} misses {gap} s of footage; the server was away {camera_down:?}"
        );
    }
    for (code, (raised, cleared)) in &alerts {
        assert!(
            raised - cleared <= 1,
            "{code} raised {raised}x, cleared {cleared}x"
        );
    }
    daemon.signal(15);
    assert_eq!(daemon.wait(Duration::from_secs(30)).0, 0);
}

/// The daemon died: its process is a zombie waiting for the test to reap it.
fn daemon_exited(d: &Daemon) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", d.pid())).map_or(true, |s| {
        s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z'))
    })
}
