//! The daemon as systemd and users meet it: the control socket, `status` with and without a
//! daemon, signals, sd_notify, and logs free of secrets. Real processes, real sockets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use camvault::config::SourceKind;
use camvault::store::{NewSegment, SegmentEnd, SegmentState, Store};
use common::*;

const CAMERAS: &str = "[[camera]]\nname = \"front\"\nsource = \"test:\"\n\n[[camera]]\nname = \"back\"\nsource = \"test:\"\nenabled = false\n";

#[test]
fn status_comes_from_the_daemon_then_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), CAMERAS);
    let daemon = Daemon::start(&cfg, &data, &[]);

    let sock = data.join("camvault.sock");
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let s = status(&cfg);
    assert_eq!(s["source"], "daemon");
    assert_eq!(s["device_id"], "cv-test");
    let front = s["cameras"]["front"]["state"].as_str().unwrap().to_string();
    assert!(
        front == "starting" || front == "recording",
        "the recorder runs the camera: {front}"
    );
    assert_eq!(s["cameras"]["back"]["state"], "disabled");
    assert!(s["uptime_s"].is_u64());
    assert!(s["disk"]["total_bytes"].as_u64().unwrap() > 0);
    let human = run(camvault().arg("--config").arg(&cfg).arg("status"));
    assert!(
        human.stdout.contains("daemon running") && human.stdout.contains("front"),
        "{}",
        human.stdout
    );

    // A second daemon on the same data directory refuses to start and leaves the first alone.
    let second = run(camvault().arg("--config").arg(&cfg).arg("run"));
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains("already running"),
        "{}",
        second.stderr
    );
    assert_eq!(status(&cfg)["source"], "daemon");

    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{log}");
    assert!(!sock.exists(), "socket removed on shutdown");

    let s = status(&cfg);
    assert_eq!(s["source"], "store");
    assert!(s["uptime_s"].is_null());
    assert_eq!(s["cameras"]["front"]["state"], "stopped");
    let human = run(camvault().arg("--config").arg(&cfg).arg("status"));
    assert!(human.stdout.contains("not running"), "{}", human.stdout);
}

#[test]
fn status_without_any_database_is_a_runtime_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let r = run(camvault().arg("--config").arg(&cfg).arg("status"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no database"), "{}", r.stderr);
}

#[test]
fn the_control_socket_rejects_bad_requests_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), CAMERAS);
    let daemon = Daemon::start(&cfg, &data, &[]);
    let sock = data.join("camvault.sock");

    let r = ask_socket(&data, b"{\"cmd\":\"status\",\"request_id\":\"abc\"}\n");
    assert_eq!(
        (r["ok"].clone(), r["request_id"].clone()),
        (json!(true), json!("abc"))
    );
    assert!(r["result"]["cameras"]["front"]["state"].is_string());

    let bad: &[(&[u8], &str)] = &[
        (b"this is not json\n", "bad JSON"),
        (b"[1,2,3]\n", "JSON object"),
        (b"{\"request_id\": 7}\n", "cmd"),
        (b"{\"cmd\": 42}\n", "cmd"),
        (
            b"{\"cmd\":\"selfdestruct\",\"request_id\":9}\n",
            "unknown command",
        ),
        (b"{\"cmd\":\"status\",\"verbose\":true}\n", "unknown field"),
        (b"{\"cmd\":\"record\",\"camera\":\"front\"}\n", "enabled"),
        (b"{\"cmd\":\"clip\",\"camera\":\"../../etc\"}\n", "camera"),
        (b"\xff\xfe\x00garbage\n", "bad JSON"),
        (
            b"{\"cmd\":\"snapshot\",\"camera\":\"front\",\"reason\":\"\"}\n",
            "reason",
        ),
        (
            b"{\"cmd\":\"snapshot\",\"camera\":\"front\"}\n",
            "not recording",
        ),
    ];
    for (line, needle) in bad {
        let r = ask_socket(&data, line);
        assert_eq!(
            r["ok"],
            false,
            "{:?} was accepted",
            String::from_utf8_lossy(line)
        );
        assert!(
            r["error"].as_str().unwrap().contains(needle),
            "{:?}: {}",
            String::from_utf8_lossy(line),
            r["error"]
        );
    }
    // Request ids come back even on failures, so an MQTT client can match them.
    assert_eq!(
        ask_socket(&data, b"{\"cmd\":\"selfdestruct\",\"request_id\":9}\n")["request_id"],
        9
    );

    // Several requests on one connection.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(b"{\"cmd\":\"status\",\"request_id\":1}\n{\"cmd\":\"nope\",\"request_id\":2}\n")
        .unwrap();
    let mut lines = BufReader::new(s.try_clone().unwrap()).lines();
    let a: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let b: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (
            a["request_id"].clone(),
            a["ok"].clone(),
            b["request_id"].clone(),
            b["ok"].clone()
        ),
        (json!(1), json!(true), json!(2), json!(false))
    );

    // Oversized: an error reply, then the connection is closed.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let huge = vec![b'x'; 200 * 1024];
    let _ = s.write_all(&huge);
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).unwrap();
    assert!(reply.contains("larger than 65536 bytes"), "{reply}");
    let mut rest = Vec::new();
    assert_eq!(
        BufReader::new(&s).read_to_end(&mut rest).unwrap_or(0),
        0,
        "closed after the error"
    );

    // Half a request and a hang-up; a crowd of idle connections.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(b"{\"cmd\":\"sta").unwrap();
    drop(s);
    let idle: Vec<UnixStream> = (0..40)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    drop(idle);
    // Sixteen connections that never speak hold every slot: each is closed within seconds,
    // and `status` still gets the daemon's answer.
    // A probe that gets a slot hears nothing and is kept as one more hog, so the slots fill up
    // even when some of the first sixteen were refused while earlier connections still held theirs.
    let mut hogs: Vec<UnixStream> = (0..16)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    wait_for("every slot taken", Duration::from_secs(10), || {
        let mut probe = UnixStream::connect(&sock).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut reply = String::new();
        let busy =
            BufReader::new(&mut probe).read_line(&mut reply).is_ok() && reply.contains("busy");
        if !busy {
            hogs.push(probe);
        }
        busy
    });
    let t = std::time::Instant::now();
    assert_eq!(status(&cfg)["source"], "daemon");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    drop(hogs);

    // The daemon is unharmed.
    assert_eq!(ask_socket(&data, b"{\"cmd\":\"status\"}\n")["ok"], true);
    assert_eq!(status(&cfg)["source"], "daemon");
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), CAMERAS);
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let envs = [
        ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "400000"),
    ];
    let daemon = Daemon::start(&cfg, &data, &envs);

    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got
        .iter()
        .filter(|m: &&String| m.contains("WATCHDOG=1"))
        .count()
        < 3
    {
        let n = notify.recv(&mut buf).expect("a notification within 10 s");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(got[0].contains("READY=1"), "READY first: {got:?}");
    daemon.signal(SIGTERM);
    loop {
        let n = notify.recv(&mut buf).expect("STOPPING=1 after SIGTERM");
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            break;
        }
    }
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

#[test]
fn sigint_stops_gracefully_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), CAMERAS);
    let daemon = Daemon::start(&cfg, &data, &[]);
    daemon.signal(SIGINT);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(log.contains("SIGINT") && log.contains("stopped"), "{log}");
}

#[test]
fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Cameras on a closed loopback port: ffmpeg fails and says so, quoting the URL.
    let port = free_port();
    let secret_file = dir.path().join("cam.secret");
    write_secret(&secret_file, "FilePass9\n", 0o600);
    let extra = format!(
        r#"
[[camera]]
name = "front"
source = "rtsp://admin:CamPass1@127.0.0.1:{port}/Preview_01_main"
[[camera]]
name = "side"
source = "rtsp://admin@127.0.0.1:{port}/stream?password=QueryPw2"
password_file = "{}"
[[camera]]
name = "tiny"
source = "rtsp://admin:x9@127.0.0.1:{port}/short"
[upload]
destination = "s3"
bucket = "bkt"
access_key_id = "AKID"
secret_access_key = "S3Secret3"
session_token = "Token4"
[mqtt]
url = "mqtts://camvault:MqttUrlPw5@broker.lan:8883"
[relay]
rtmp_url = "rtmp://a.rtmp.youtube.com/live2/StreamKey7"
"#,
        secret_file.display(),
    );
    let cfg = config(dir.path(), &extra);
    let daemon = Daemon::start(&cfg, &data, &[("RUST_LOG", "trace")]);
    // Let ffmpeg try the (closed) port and fail, printing the URL, more than once.
    wait_for("two failed starts", Duration::from_secs(30), || {
        status(&cfg)["cameras"]["front"]["restarts"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    });
    assert_eq!(status(&cfg)["source"], "daemon");
    ask_socket(&data, b"{\"cmd\":\"snapshot\",\"camera\":\"front\"}\n");
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(
        log.contains("camvault running"),
        "trace logging was on: {log}"
    );
    assert!(
        log.contains("ffmpeg: "),
        "ffmpeg's complaints (quoting the URL) were logged: {log}"
    );
    for s in [
        "CamPass1",
        "QueryPw2",
        "FilePass9",
        "S3Secret3",
        "Token4",
        "MqttUrlPw5",
        "StreamKey7",
    ] {
        assert!(!log.contains(s), "{s} leaked into the log");
    }
    assert!(
        !log.contains(":x9@"),
        "a two-letter password leaked into the log"
    );
}

/// Children see only PATH and TZ: not our `CAMVAULT_*` overrides, not `AWS_*` credentials.
#[test]
fn children_get_a_clean_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(
        dir.path(),
        "[[camera]]\nname = \"front\"\nsource = \"test:\"\n",
    );
    let daemon = Daemon::start(
        &cfg,
        &data,
        &[
            ("AWS_SECRET_ACCESS_KEY", "EnvCanary8"),
            ("CAMVAULT_LOG_LEVEL", "info"),
        ],
    );
    wait_for("front recording", Duration::from_secs(40), || {
        status(&cfg)["cameras"]["front"]["state"] == "recording"
    });
    let parent = daemon.pid().to_string();
    let children: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let stat = std::fs::read_to_string(p.path().join("stat")).ok()?;
            // The parent pid is the second field after the parenthesised command name.
            let after = &stat[stat.rfind(')')? + 2..];
            (after.split(' ').nth(1)? == parent).then(|| p.file_name().into_string().ok())?
        })
        .collect();
    assert!(!children.is_empty(), "ffmpeg runs as a child");
    for pid in &children {
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let env = String::from_utf8_lossy(&env);
        let vars: Vec<&str> = env.split('\0').filter(|v| !v.is_empty()).collect();
        assert!(vars.contains(&"TZ=UTC"), "{vars:?}");
        for v in &vars {
            assert!(
                v.starts_with("PATH=") || v.starts_with("TZ="),
                "child {pid} inherited {v}"
            );
        }
    }
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(15)).0, 0);
}

/// What start-up can check stops the daemon with the key named (exit 2) before it reports
/// ready, instead of leaving a task that fails and restarts for ever.
#[test]
fn start_up_problems_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let a_file = dir.path().join("a-file");
    write(&a_file, "x");
    let cases: Vec<(String, &str)> = vec![
        (
            format!(
                "[ftp]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n[[ftp.users]]\nname = \"cam\"\npassword = \"Secret99\"\n"
            ),
            "ftp.listen",
        ),
        (
            "[[camera]]\nname = \"front\"\nsource = \"test:\"\n[recording]\nffmpeg = \"/nonexistent/ffmpeg\"\n".into(),
            "recording.ffmpeg",
        ),
        (
            "[mqtt]\nurl = \"mqtts://127.0.0.1:8883\"\nca_file = \"/nonexistent/ca.pem\"\n".into(),
            "mqtt.ca_file",
        ),
        (
            format!(
                "[upload]\ndestination = \"dir\"\ndir = \"{}/sub\"\n",
                a_file.display()
            ),
            "upload.dir",
        ),
    ];
    for (i, (extra, key)) in cases.iter().enumerate() {
        let case_dir = dir.path().join(format!("case{i}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let cfg = config(&case_dir, extra);
        let t = std::time::Instant::now();
        let r = run(camvault().arg("--config").arg(&cfg).arg("run"));
        assert_eq!(r.code, 2, "{key}: {}", r.stderr);
        assert!(r.stderr.contains(key), "{key}: {}", r.stderr);
        assert!(!r.stderr.contains("Secret99"));
        assert!(t.elapsed() < Duration::from_secs(20), "{key}: no hang");
    }
}

/// Every command has a CLI verb, and exit codes tell bad usage (2, whether clap or the daemon
/// refuses it) from failures (1).
#[test]
fn every_command_has_a_verb_and_exit_codes_tell_usage_from_failure() {
    let help = run(camvault().arg("--help")).stdout;
    for name in camvault::control::Command::NAMES {
        if matches!(name, "ota" | "reboot") {
            continue;
        }
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(name)),
            "`{name}` has no CLI verb: {help}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), CAMERAS);
    let cli = |args: &[&str]| run(camvault().arg("--config").arg(&cfg).args(args));
    // Without a daemon: a runtime failure.
    assert_eq!(cli(&["discover"]).code, 1);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("front recording", Duration::from_secs(40), || {
        status(&cfg)["cameras"]["front"]["state"] == "recording"
    });
    let cases: &[(&[&str], i32, &str)] = &[
        (&["record", "front", "off"], 0, "enabled"),
        (&["record", "front", "on"], 0, "enabled"),
        (&["discover"], 0, "V4L2 devices: "),
        (&["discover", "--json"], 0, "\"onvif\""),
        (&["record", "nope", "on"], 2, "no camera named"),
        (&["record", "front", "maybe"], 2, "maybe"),
        (&["snapshot", "nope"], 2, "no camera named"),
        (&["clip", "front", "--pre", "700"], 2, "at most 600"),
        (&["upload", "pause"], 2, "uploads are off"),
        (&["relay", "start"], 2, "relay is off"),
    ];
    for (args, code, needle) in cases {
        let r = cli(args);
        assert_eq!(r.code, *code, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(needle) || r.stderr.contains(needle),
            "{args:?}: {}{}",
            r.stdout,
            r.stderr
        );
    }
    // The record switch outlives a restart: off stays off until switched on.
    assert_eq!(cli(&["record", "front", "off"]).code, 0);
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(15)).0, 0);
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for(
        "front stopped after the restart",
        Duration::from_secs(20),
        || status(&cfg)["cameras"]["front"]["state"] == "stopped",
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        status(&cfg)["cameras"]["front"]["state"],
        "stopped",
        "it stays off"
    );
    assert_eq!(cli(&["record", "front", "on"]).code, 0);
    wait_for("front recording again", Duration::from_secs(40), || {
        status(&cfg)["cameras"]["front"]["state"] == "recording"
    });
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(15)).0, 0);
}

/// `camvault demo` leaves its config in its folder, so every other command can look at it, and
/// a second run resumes with the same store and footage.
#[test]
fn the_demo_leaves_a_config_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run_demo = || {
        let r = run(camvault()
            .args(["demo", "--seconds", "14", "--dir"])
            .arg(&demo));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("camvault --config"), "{}", r.stdout);
    };
    run_demo();
    let cfg = demo.join("camvault.toml");
    let first = segments(&cfg);
    assert!(!first.is_empty(), "the demo recorded");
    run_demo();
    let second = segments(&cfg);
    assert!(
        second.len() > first.len(),
        "{} then {}",
        first.len(),
        second.len()
    );
    for s in &first {
        assert!(
            second.iter().any(|t| t["path"] == s["path"]),
            "kept {}",
            s["path"]
        );
    }
    assert_eq!(status(&cfg)["source"], "store");
}

#[test]
fn segments_and_queue_list_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let bucket = dir.path().join("bucket");
    let cfg = config(
        dir.path(),
        &format!(
            "{CAMERAS}\n[upload]\ndestination = \"dir\"\ndir = \"{}\"\n",
            bucket.display()
        ),
    );

    let store = Store::open(&data.join("camvault.db")).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 24, 14, 30, 0).unwrap();
    store
        .blocking_write(move |db| {
            db.sync_cameras(
                &[
                    ("front".into(), SourceKind::Test, true),
                    ("back".into(), SourceKind::Test, false),
                ],
                t0,
            )?;
            for (i, cam) in ["front", "back", "front"].into_iter().enumerate() {
                let start = t0 + chrono::Duration::minutes(10 * i as i64);
                let path = format!(
                    "recordings/{cam}/2026-01-24/{cam}_{}.mp4",
                    start.format("%Y-%m-%d_%H-%M-%S")
                );
                let id = db.insert_segment(&NewSegment {
                    camera: cam.into(),
                    path,
                    start,
                })?;
                if i < 2 {
                    let end = SegmentEnd {
                        end: start + chrono::Duration::minutes(10),
                        duration_ms: 600_000,
                        bytes: 1_048_576,
                        state: SegmentState::Closed,
                    };
                    db.end_segment(id, &end)?;
                    // The uploader's jobs: one waiting, one failed for good.
                    let key = format!("2026/01/24/{cam}/{i}.mp4");
                    let job = db.enqueue(Some(id), "x", &key, 1_048_576, 0, t0)?;
                    if i == 1 {
                        db.job_failed(job, "HTTP 403 AccessDenied: no", None)?;
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    store.close().unwrap();

    let list = |args: &[&str]| -> Value {
        let r = run(camvault()
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .arg("--json"));
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    };
    let all = list(&["segments"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let front = list(&["segments", "--camera", "front"]);
    assert_eq!(front.as_array().unwrap().len(), 2);
    assert_eq!(
        front[0]["path"],
        "recordings/front/2026-01-24/front_2026-01-24_14-30-00.mp4"
    );
    assert_eq!(front[0]["state"], "closed");
    assert_eq!(front[1]["state"], "recording");
    let window = list(&[
        "segments",
        "--since",
        "2026-01-24T14:45:00Z",
        "--until",
        "2026-01-24T14:55:00Z",
    ]);
    assert_eq!(
        window
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["camera"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["back", "front"],
        "segments overlapping the window"
    );
    // Each row says how its upload stands and where it goes; other kinds on request.
    let back = list(&["segments", "--camera", "back"]);
    assert_eq!(back[0]["kind"], "continuous");
    assert_eq!(back[0]["upload"], "failed");
    assert_eq!(back[0]["key"], "2026/01/24/back/1.mp4");
    assert_eq!(
        list(&["segments", "--kind", "clip"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        list(&["segments", "--kind", "all"])
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let q = list(&["queue"]);
    assert_eq!(q["destination"], "dir");
    assert_eq!(q["pending"].as_array().unwrap().len(), 1);
    assert_eq!(q["failed"][0]["last_error"], "HTTP 403 AccessDenied: no");

    let human = run(camvault()
        .arg("--config")
        .arg(&cfg)
        .args(["segments", "--camera", "back"]));
    assert!(
        human.stdout.contains("back_2026-01-24_14-40-00.mp4") && human.stdout.contains("1.0 MiB"),
        "{}",
        human.stdout
    );
    let human = run(camvault().arg("--config").arg(&cfg).arg("queue"));
    assert!(
        human.stdout.contains("pending:   1 (1.0 MiB to send)")
            && human
                .stdout
                .contains("failed    2026/01/24/back/1.mp4  HTTP 403"),
        "{}",
        human.stdout
    );
}

/// A segment closed as the daemon stops is in the upload queue at once: the row and its job
/// are written in one transaction, so `queue` never says 0 while footage waits.
#[test]
fn segments_closed_at_shutdown_are_already_queued() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "not-a-real-secret").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Nothing listens on port 9: every upload waits for a retry.
    let cfg = config(
        dir.path(),
        &format!(
            "[recording]\nsegment_seconds = 10\nfragment_seconds = 1\n\n{CAMERAS}\n[upload]\ndestination = \"s3\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"footage\"\naccess_key_id = \"AK\"\nsecret_access_key_file = \"{}\"\n",
            secret.display()
        ),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("a closed segment", Duration::from_secs(60), || {
        status(&cfg)["cameras"]["front"]["segments"]
            .as_i64()
            .unwrap_or(0)
            >= 1
    });
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(15)).0, 0);

    let store = Store::open_read_only(&data.join("camvault.db")).unwrap();
    let (closed, unqueued): (i64, i64) = store
        .blocking_read(|db| {
            Ok(db.conn().query_row(
                "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS
                   (SELECT 1 FROM upload_job j WHERE j.segment_id = s.id))
                 FROM segment s WHERE s.state = 'closed'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert!(
        closed >= 2,
        "the segment open at the stop was closed too: {closed}"
    );
    assert_eq!(unqueued, 0, "every closed segment has its upload job");
    let q = run(camvault()
        .arg("--config")
        .arg(&cfg)
        .args(["queue", "--json"]));
    let q: Value = serde_json::from_str(&q.stdout).unwrap();
    let count = |k: &str| q[k].as_array().map_or(0, |j| j.len()) as i64;
    assert_eq!(count("pending") + count("in_flight"), closed, "{q}");
}
