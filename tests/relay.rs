//! The FTP-to-RTMP relay against real peers: curl uploads clips over FTP into camvault's
//! embedded server, camvault streams them to nginx with the RTMP module, and nginx's
//! exec_publish hook counts publish sessions while its recorder keeps what arrived.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const FTP_PASSWORD: &str = "ftp-Pw-4417";

/// `n` H.264 + AAC clips of `secs` seconds named with increasing timestamps, made once.
fn clips(dir: &Path, n: usize, secs: u32) -> Vec<PathBuf> {
    clips_sized(dir, n, secs, "320x240")
}

fn clips_sized(dir: &Path, n: usize, secs: u32, size: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("cam1_20260122_10{:02}{:02}.mp4", i / 60, i % 60));
            let video = format!("testsrc2=size={size}:rate=25:duration={secs}");
            encode_clip(&p, &video, 300 + i * 20, secs, &[]);
            p
        })
        .collect()
}

fn relay_config(dir: &Path, rtmp: &str, ftp_port: u16, extra: &str) -> PathBuf {
    let pw = dir.join("ftp.secret");
    write_secret(&pw, FTP_PASSWORD, 0o600);
    let pasv = free_port();
    config(
        dir,
        &format!(
            "[relay]\nenabled = true\nrtmp_url = \"{rtmp}\"\nscan_interval_seconds = 1\n{extra}\n\
             [ftp]\nenabled = true\nlisten = \"127.0.0.1:{ftp_port}\"\npassive_ports = \"{pasv}-{pasv}\"\n\
             users = [{{ name = \"cam1\", password_file = \"{}\" }}]\n",
            pw.display()
        ),
    )
}

/// camvault with the relay and its FTP inbox on (config, data_dir, daemon, FTP port), once
/// the FTP server answers.
fn start_relay(dir: &Path, rtmp: &str, extra: &str) -> (PathBuf, PathBuf, Daemon, u16) {
    let ftp = free_port();
    let cfg = relay_config(dir, rtmp, ftp, extra);
    let data = dir.join("data");
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("the FTP server", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", ftp)).is_ok()
    });
    (cfg, data, daemon, ftp)
}

/// Uploads each file under its own name, as a camera would.
fn upload_all(ftp: u16, files: &[PathBuf]) {
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy();
        let r = upload(ftp, f, &name, FTP_PASSWORD);
        assert_eq!(r.code, 0, "curl: {}", r.stderr);
    }
}

fn upload(port: u16, file: &Path, remote: &str, password: &str) -> Run {
    run(Command::new("curl")
        .args(["-sS", "--path-as-is", "-T"])
        .arg(file)
        .arg(format!("ftp://cam1:{password}@127.0.0.1:{port}/{remote}")))
}

fn inbox_videos(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data.join("inbox"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// (duration, whether every stream's timestamps only go forward) of a recorded FLV.
fn flv_timeline(path: &Path) -> (f64, bool) {
    let out = ffprobe(
        path,
        &[
            "-show_entries",
            "packet=stream_index,dts_time",
            "-of",
            "csv=p=0",
        ],
    );
    let mut last = [f64::MIN; 8];
    let mut monotonic = true;
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for l in out.lines() {
        let mut it = l.split(',');
        let (Some(s), Some(t)) = (it.next(), it.next()) else {
            continue;
        };
        let (Ok(s), Ok(t)) = (s.parse::<usize>(), t.parse::<f64>()) else {
            continue;
        };
        if t < last[s % 8] {
            monotonic = false;
        }
        last[s % 8] = t;
        lo = lo.min(t);
        hi = hi.max(t);
    }
    (hi - lo, monotonic)
}

fn sent_in_log(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("relay: sent"))
        .filter_map(|l| {
            let i = l.find("file=")?;
            Some(
                l[i + 5..]
                    .split_whitespace()
                    .next()?
                    .trim_matches('"')
                    .to_string(),
            )
        })
        .collect()
}

/// SIGTERM, a clean exit within 15 s, and the log.
fn stop(daemon: Daemon) -> String {
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(15));
    assert_eq!(code, 0, "{log}");
    log
}

fn file_names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn twenty_ftp_uploads_reach_nginx_in_one_publish_session() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let files = clips(&dir.path().join("clips"), 20, 4);
    let (cfg, data, daemon, ftp) = start_relay(dir.path(), &nginx.url(), "");
    upload_all(ftp, &files);
    wait_for("all 20 relayed", Duration::from_secs(150), || {
        status(&cfg)["relay"]["sent"] == 20
    });
    assert!(inbox_videos(&data).is_empty(), "sent files are deleted");
    let log = stop(daemon);
    let sent = sent_in_log(&log);
    let names = file_names(&files);
    assert_eq!(sent, names, "in order, each once");
    // One INFO line per FTP upload, with who, from where, what and how much.
    let ftp: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ftp: upload finished"))
        .collect();
    assert_eq!(ftp.len(), 20, "{log}");
    assert!(
        ftp.iter().all(|l| l.contains("user=cam1")
            && l.contains("address=127.0.0.1")
            && l.contains("bytes=")),
        "{ftp:?}"
    );
    assert!(
        !log.contains(RTMP_KEY),
        "the stream key stays out of the log"
    );

    wait_for("nginx to see the end", Duration::from_secs(10), || {
        nginx.hooks().iter().any(|l| l.starts_with("done"))
    });
    assert_eq!(
        nginx.publishes(),
        1,
        "one publish session: {:?}",
        nginx.hooks()
    );
    let rec = nginx.recordings();
    assert_eq!(rec.len(), 1, "{rec:?}");
    let (duration, monotonic) = flv_timeline(&rec[0]);
    assert!(monotonic, "timestamps never go backwards");
    assert!(
        (duration - 80.0).abs() <= 1.0,
        "received {duration} s of 80"
    );
}

#[test]
fn corrupt_file_fails_aside_and_the_relay_survives_nginx_and_camvault_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut nginx = Nginx::start(&dir.path().join("nginx"));
    let files = clips(&dir.path().join("clips"), 8, 4);
    let ftp = free_port();
    let cfg = relay_config(
        dir.path(),
        &nginx.url(),
        ftp,
        "max_retries = 1\nretry_delay_seconds = 1\nmax_lag_seconds = 0\n",
    );
    let data = dir.path().join("data");
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Arrived by other means (not FTP): a corrupt file between good ones, and odd entries.
    for f in &files {
        std::fs::copy(f, inbox.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        inbox.join("cam1_20260122_100030.mp4"),
        b"not a video at all",
    )
    .unwrap();
    std::fs::write(inbox.join("cam1_20260122_100031.mp4"), b"").unwrap();
    let outside = dir.path().join("outside.mp4");
    std::fs::copy(&files[0], &outside).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("cam1_20260122_100032.mp4")).unwrap();
    // A newer file to be held back, so every clip above is eligible.
    std::fs::copy(&files[0], inbox.join("cam1_20260122_110000.mp4")).unwrap();
    let old = filetime_ago(&inbox, 120);
    assert!(old > 0);
    // The newest is still being written: its mtime keeps moving (here: ahead of the clock).
    let r = run(Command::new("touch")
        .args(["-d", "+10 minutes"])
        .arg(inbox.join("cam1_20260122_110000.mp4")));
    assert_eq!(r.code, 0);

    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("two clips sent", Duration::from_secs(60), || {
        status(&cfg)["relay"]["sent"].as_i64().unwrap_or(0) >= 2
    });
    // nginx restarts mid-stream: the session is lost; the relay reconnects and resends.
    nginx.stop();
    std::thread::sleep(Duration::from_secs(2));
    nginx.resume();
    wait_for("four clips sent", Duration::from_secs(90), || {
        status(&cfg)["relay"]["sent"].as_i64().unwrap_or(0) >= 4
    });
    // kill -9 mid-stream: the restart goes on after the last file sent.
    daemon.signal(SIGKILL);
    let (_, log1) = daemon.wait(Duration::from_secs(10));
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for(
        "everything but the newest sent",
        Duration::from_secs(120),
        || inbox_videos(&data) == ["cam1_20260122_110000.mp4"],
    );
    let log2 = stop(daemon);

    let (a, b) = (sent_in_log(&log1), sent_in_log(&log2));
    let mut all = a.clone();
    all.extend(b.iter().cloned());
    let names = file_names(&files);
    assert_eq!(
        all, names,
        "each clip sent once, in order, across the kill: {a:?} + {b:?}"
    );

    let mut failed: Vec<String> = std::fs::read_dir(inbox.join("_failed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            "cam1_20260122_100030.mp4",
            "cam1_20260122_100031.mp4",
            "cam1_20260122_100032.mp4"
        ],
        "corrupt, empty and linked files are set aside, never deleted"
    );
    assert!(outside.exists(), "a link's target is never touched");
    assert!(
        std::fs::symlink_metadata(inbox.join("_failed/cam1_20260122_100032.mp4"))
            .unwrap()
            .is_symlink()
    );
    assert!(
        log1.contains("RTMP session lost") || log1.contains("relay ffmpeg"),
        "the nginx restart was noticed"
    );
    assert!(!format!("{log1}{log2}").contains(RTMP_KEY));
}

/// Sets every file's mtime in `dir` to `secs` ago (files that arrived by other means must be
/// `min_file_age_seconds` old). Returns how many were touched.
fn filetime_ago(dir: &Path, secs: u64) -> usize {
    let when = std::time::SystemTime::now() - Duration::from_secs(secs);
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if std::fs::symlink_metadata(e.path()).unwrap().is_file() {
            let f = std::fs::File::options().write(true).open(e.path()).unwrap();
            f.set_modified(when).unwrap();
            n += 1;
        }
    }
    n
}

#[test]
fn ftp_refuses_wrong_passwords_traversal_and_anything_but_upload() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clips(&dir.path().join("clips"), 1, 1).remove(0);
    // No RTMP server needed: the relay is stopped so uploads stay in the inbox.
    let (_, data, daemon, ftp) = start_relay(dir.path(), "rtmp://127.0.0.1:9/live/x", "");
    let r = ask_socket(&data, b"{\"cmd\":\"relay\",\"action\":\"stop\"}\n");
    assert_eq!(r["ok"], true, "{r}");

    let r = upload(ftp, &clip, "a.mp4", "wrong-password");
    assert_ne!(r.code, 0, "a wrong password is refused");
    assert!(!data.join("inbox/a.mp4").exists());

    let r = upload(ftp, &clip, "ok.mp4", FTP_PASSWORD);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(data.join("inbox/ok.mp4").exists());

    for remote in ["../escape.mp4", "../../escape.mp4", "%2e%2e/escape.mp4"] {
        let _ = upload(ftp, &clip, remote, FTP_PASSWORD);
        assert!(!data.join("escape.mp4").exists(), "{remote} escaped");
        assert!(!dir.path().join("escape.mp4").exists(), "{remote} escaped");
    }
    // The same sent as is (curl normalises `..` away otherwise), at a file that exists
    // outside the inbox: the upload is refused and the file is neither written nor removed.
    let outside = data.join("keep.bin");
    std::fs::write(&outside, b"not the inbox's").unwrap();
    for remote in ["../keep.bin", "/../keep.bin", "../../keep.bin"] {
        let r = run(Command::new("curl")
            .args(["-sS", "--path-as-is", "-T"])
            .arg(&clip)
            .arg(format!(
                "ftp://cam1:{FTP_PASSWORD}@127.0.0.1:{ftp}/{remote}"
            )));
        assert_ne!(r.code, 0, "{remote} was taken");
        assert_eq!(
            std::fs::read(&outside).unwrap(),
            b"not the inbox's",
            "{remote}"
        );
    }
    let r = run(Command::new("curl")
        .args(["-sS", "--ftp-create-dirs", "-T"])
        .arg(&clip)
        .arg(format!(
            "ftp://cam1:{FTP_PASSWORD}@127.0.0.1:{ftp}/sub/x.mp4"
        )));
    assert_ne!(r.code, 0, "no folders");
    let r = run(Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(format!("ftp://cam1:{FTP_PASSWORD}@127.0.0.1:{ftp}/ok.mp4")));
    assert_ne!(r.code, 0, "no downloads");
    let r = run(Command::new("curl")
        .args(["-sS", "-Q", "DELE ok.mp4"])
        .arg(format!("ftp://cam1:{FTP_PASSWORD}@127.0.0.1:{ftp}/")));
    assert_ne!(r.code, 0, "no deletes");
    assert!(data.join("inbox/ok.mp4").exists());

    let log = stop(daemon);
    assert!(
        !log.contains(FTP_PASSWORD),
        "the FTP password stays out of the log"
    );
}

/// A camera whose upload broke off uploads the clip again under the same name. The broken
/// copy failed to probe and waits for its retry (300 s by default); the whole one, a new
/// upload, goes at once.
#[test]
fn a_clip_uploaded_again_after_a_broken_upload_goes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let whole = clips(&dir.path().join("clips"), 1, 3).remove(0);
    let bytes = std::fs::read(&whole).unwrap();
    let broken = dir.path().join("broken.mp4");
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let (cfg, data, daemon, ftp) = start_relay(dir.path(), &nginx.url(), "max_lag_seconds = 0\n");
    let name = "cam1_20260122_120000.mp4";
    assert_eq!(upload(ftp, &broken, name, FTP_PASSWORD).code, 0);
    wait_for("the broken copy to fail", Duration::from_secs(30), || {
        daemon.log().contains("relay: file not sent; will retry")
    });
    let t = std::time::Instant::now();
    assert_eq!(upload(ftp, &whole, name, FTP_PASSWORD).code, 0);
    wait_for("the whole clip sent", Duration::from_secs(60), || {
        status(&cfg)["relay"]["sent"].as_i64() == Some(1)
    });
    eprintln!("sent {:.1?} after the second upload", t.elapsed());
    assert!(inbox_videos(&data).is_empty());
    assert_eq!(status(&cfg)["relay"]["failed"].as_i64(), Some(0));
    assert_eq!(nginx.publishes(), 1);
}

#[test]
fn new_codec_parameters_open_a_new_session_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let mut files = clips(&dir.path().join("small"), 2, 3);
    // A third clip, later in time, at another resolution.
    let big = clips_sized(&dir.path().join("big"), 3, 3, "640x360").remove(2);
    let later = dir.path().join("cam1_20260122_100002.mp4");
    std::fs::rename(&big, &later).unwrap();
    files.push(later);
    let (cfg, _, daemon, ftp) = start_relay(dir.path(), &nginx.url(), "");
    upload_all(ftp, &files);
    wait_for("all 3 relayed", Duration::from_secs(60), || {
        status(&cfg)["relay"]["sent"] == 3
    });
    let log = stop(daemon);
    assert!(log.contains("stream parameters changed"), "{log}");
    wait_for("both sessions ended", Duration::from_secs(10), || {
        nginx
            .hooks()
            .iter()
            .filter(|l| l.starts_with("done"))
            .count()
            == 2
    });
    assert_eq!(nginx.publishes(), 2, "{:?}", nginx.hooks());
    let rec = nginx.recordings();
    assert_eq!(rec.len(), 2, "{rec:?}");
    let (d1, m1) = flv_timeline(&rec[0]);
    let (d2, m2) = flv_timeline(&rec[1]);
    assert!(m1 && m2, "each session's timestamps go forward");
    assert!(
        (d1 - 6.0).abs() <= 1.0 && (d2 - 3.0).abs() <= 1.0,
        "{d1} s + {d2} s"
    );
}

/// Forwards one TCP connection at a time to `upstream`, keeping what the client sent: the
/// control channel as anyone on the network would see it.
fn wiretap(upstream: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = std::net::TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    keep.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_in, &mut c_out);
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, seen)
}

#[test]
fn ftps_keeps_the_password_and_the_video_off_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let clip = clips(&dir.path().join("clips"), 1, 2).remove(0);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let r = run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=camvault-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert_eq!(r.code, 0, "openssl: {}", r.stderr);
    let ftp = free_port();
    let cfg = relay_config(dir.path(), &nginx.url(), ftp, "");
    // The TLS keys join [ftp].
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[ftp]\n",
        &format!(
            "[ftp]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("the FTP server", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", ftp)).is_ok()
    });
    let (tap, seen) = wiretap(ftp);

    // Control and data channels both encrypted, the server's certificate checked.
    let r = run(Command::new("curl")
        .args(["-sS", "--ssl-reqd", "--cacert"])
        .arg(&cert)
        .arg("-T")
        .arg(&clip)
        .arg(format!(
            "ftp://cam1:{FTP_PASSWORD}@127.0.0.1:{tap}/cam1_20260122_100000.mp4"
        )));
    assert_eq!(r.code, 0, "curl over FTPS: {}", r.stderr);
    wait_for("the clip relayed", Duration::from_secs(30), || {
        status(&cfg)["relay"]["sent"] == 1
    });
    let wire = seen.lock().unwrap().clone();
    let has = |needle: &[u8]| wire.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"AUTH TLS"), "explicit FTPS was negotiated");
    assert!(
        !has(FTP_PASSWORD.as_bytes()),
        "the password crossed the wire in clear"
    );
    assert!(!has(b"STOR"), "the commands after AUTH are encrypted");

    stop(daemon);
    assert_eq!(nginx.publishes(), 1, "the clip reached the RTMP server");
}

/// kill -9 at random moments while ten clips are relayed: no clip is lost. Each reaches nginx
/// whole at least once, in order, and none twice within one publish session (a clip cut by
/// the kill goes again, whole, on the next session).
#[test]
fn kill_9_at_random_moments_loses_no_clip() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let (n, secs) = (10, 3);
    let files = grey_clips(&dir.path().join("clips"), n, secs);
    let (cfg, data, mut daemon, ftp) = start_relay(
        dir.path(),
        &nginx.url(),
        "max_lag_seconds = 0\nmin_file_age_seconds = 2\n",
    );
    upload_all(ftp, &files);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let sent = |cfg: &Path| status(cfg)["relay"]["sent"].as_i64().unwrap_or(0);
    let mut kills = 0;
    while kills < 5 && sent(&cfg) < n as i64 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait_ms = 1000 + (seed >> 33) % 4000;
        std::thread::sleep(Duration::from_millis(wait_ms));
        daemon.signal(SIGKILL);
        let _ = daemon.wait(Duration::from_secs(10));
        kills += 1;
        eprintln!("kill {kills} after {wait_ms} ms; {} sent", sent(&cfg));
        daemon = Daemon::start(&cfg, &data, &[]);
    }
    let t = std::time::Instant::now();
    while sent(&cfg) < n as i64 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "not all relayed: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(inbox_videos(&data).is_empty(), "sent files are deleted");
    stop(daemon);
    let recordings = nginx.closed_sessions(Duration::from_secs(15));
    let got = received_clips(&recordings, n).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{got:?}");
    let broken = got.not_whole(n, secs);
    assert!(
        broken.is_empty(),
        "clips that never reached nginx whole (clip, longest s of {secs}): {broken:?}"
    );
}

/// A camera that records on motion drops a clip now and then, not a stream of them. Each
/// clip goes out once, soon, in the one session: ffmpeg reads a clip that arrives after a
/// pause in one burst and reports no progress until it reads again, which once made the
/// relay wait 30 s, take the session for lost and send the clip a second time.
#[test]
fn clips_dropped_one_at_a_time_each_go_once_without_waiting_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let files = clips(&dir.path().join("clips"), 3, 2);
    let (cfg, _data, daemon, ftp) = start_relay(dir.path(), &nginx.url(), "");
    for (i, f) in files.iter().enumerate() {
        upload_all(ftp, std::slice::from_ref(f));
        wait_for(
            &format!("clip {i} relayed before the next arrives"),
            Duration::from_secs(15),
            || status(&cfg)["relay"]["sent"] == i + 1,
        );
        std::thread::sleep(Duration::from_secs(6));
    }
    let log = stop(daemon);
    assert!(!log.contains("session lost"), "{log}");
    let names = file_names(&files);
    assert_eq!(sent_in_log(&log), names, "in order, each once");
    wait_for("nginx to see the end", Duration::from_secs(10), || {
        nginx.hooks().iter().any(|l| l.starts_with("done"))
    });
    assert_eq!(nginx.publishes(), 1, "one session: {:?}", nginx.hooks());
    let rec = nginx.recordings();
    let received: f64 = rec.iter().map(|r| flv_timeline(r).0).sum();
    assert!(
        (received - 6.0).abs() <= 1.0,
        "nginx received {received} s of 3 clips of 2 s, in {} sessions",
        rec.len()
    );
}
