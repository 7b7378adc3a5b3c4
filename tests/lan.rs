//! The device on a LAN of its own (two network namespaces joined by a veth pair): found over
//! mDNS by Home Assistant's own library, its status page rendered by headless Chromium, its
//! metrics read by Prometheus' parser, and its listener hammered with good, wrong and
//! malformed requests. Needs root (namespaces), like the image tests.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn peer_py() -> String {
    // The pip-installed libraries live with the `python3` on PATH (not Debian's).
    let out = Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// tests/support/lan_peer.py run from the peer's namespace; its JSON answer.
fn peer(lan: &Lan, args: &[&str]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/lan_peer.py");
    let out = Lan::exec(&lan.peer, &peer_py())
        .arg(script)
        .args(args)
        .output()
        .expect("run lan_peer.py");
    assert!(
        out.status.success(),
        "lan_peer.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lan_peer.py {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The HTTP status curl got (`000` when there was no HTTP answer); `curl` is the program
/// to run, in a namespace or not, with any options of its own.
fn status_code(mut curl: Command, url: &str, auth: Option<&str>) -> String {
    curl.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ]);
    if let Some(a) = auth {
        curl.args(["-u", a]);
    }
    let out = curl.arg(url).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn http_code(lan: &Lan, url: &str, auth: Option<&str>) -> String {
    status_code(Lan::exec(&lan.peer, "curl"), url, auth)
}

fn chromium(lan: &Lan, profile: &Path, url: &str, extra: &[&str]) -> String {
    let out = Lan::exec(&lan.peer, "chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=412,1400",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium {extra:?} failed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn found_over_mdns_with_a_page_and_metrics_behind_the_device_password() {
    let lan = Lan::new("h");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "[[camera]]\nname = \"front\"\nsource = \"test:\"\n\n[[camera]]\nname = \"yard\"\nsource = \"test:\"\n\n\
         [recording]\nsegment_seconds = 10\n\n[http]\nlisten = \"0.0.0.0:8080\"\n\n\
         [discovery]\nannounce = true\n",
    );
    let data = dir.path().join("data");
    let daemon = Daemon::start_in(&lan.dev, &cfg, &data);

    // No default password: one was made for this device, private to it.
    let secret = data.join("http.secret");
    wait_for("the generated password", Duration::from_secs(10), || {
        secret.exists()
    });
    let password = std::fs::read_to_string(&secret).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(password.len(), 20);
    let auth = format!("admin:{password}");
    // Root finds it with `status` (tests run as root, as the image's admin is).
    let text = run(camvault().arg("--config").arg(&cfg).arg("status")).stdout;
    assert!(
        text.contains(&format!(
            "status page: http://camvault-cv-test.local:8080/ (user admin, password {password})"
        )),
        "{text}"
    );

    // Found by a browser on another host, with what an inventory needs in its TXT.
    let found = peer(&lan, &["mdns-browse", "_camvault._tcp.local.", "6"]);
    let list = found.as_array().unwrap();
    assert_eq!(list.len(), 1, "one camvault on this LAN: {found}");
    let dev = &list[0];
    assert_eq!(dev["server"], "camvault-cv-test.local.", "{dev}");
    assert_eq!(dev["port"], 8080, "{dev}");
    assert_eq!(dev["txt"]["id"], "cv-test", "{dev}");
    assert_eq!(dev["txt"]["version"], env!("CARGO_PKG_VERSION"), "{dev}");
    assert_eq!(dev["txt"]["http"], "8080", "{dev}");
    let mac = dev["txt"]["mac"].as_str().unwrap();
    assert_eq!(mac.len(), 17, "the veth's MAC: {dev}");
    assert!(!dev["txt"]["model"].as_str().unwrap().is_empty(), "{dev}");
    assert!(
        dev["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == lan.dev_ip.as_str()),
        "reachable at the device's address: {dev}"
    );
    let web = peer(&lan, &["mdns-browse", "_http._tcp.local.", "4"]);
    assert_eq!(
        web.as_array().unwrap().len(),
        1,
        "the page is advertised: {web}"
    );
    println!("mDNS: {dev}");

    let base = format!("http://{}:8080", lan.dev_ip);
    // Wrong or no password: 401, with a challenge.
    assert_eq!(http_code(&lan, &format!("{base}/"), None), "401");
    assert_eq!(
        http_code(&lan, &format!("{base}/metrics"), Some("admin:guess")),
        "401"
    );
    assert_eq!(
        http_code(
            &lan,
            &format!("{base}/metrics"),
            Some(&format!("root:{password}"))
        ),
        "401"
    );
    assert_eq!(
        http_code(&lan, &format!("{base}/metrics"), Some(&auth)),
        "200"
    );

    // Both cameras record and have a picture before the page is looked at.
    for cam in ["front", "yard"] {
        let p = data.join(format!("cache/previews/{cam}.jpg"));
        wait_for(&format!("{cam}'s preview"), Duration::from_secs(60), || {
            p.exists()
        });
    }
    assert_eq!(
        http_code(&lan, &format!("{base}/snapshot/front.jpg"), Some(&auth)),
        "200"
    );
    assert_eq!(
        http_code(&lan, &format!("{base}/snapshot/garage.jpg"), Some(&auth)),
        "404"
    );

    // Prometheus' own parser reads the metrics, with the seed's list and per-camera series.
    let m = peer(
        &lan,
        &["metrics", &format!("{base}/metrics"), "admin", &password],
    );
    for (family, kind) in [
        ("camvault_disk_used_bytes", "gauge"),
        ("camvault_recording_oldest_age_seconds", "gauge"),
        ("camvault_snapshots", "counter"),
        ("camvault_clips", "counter"),
        ("camvault_upload_failures", "counter"),
        ("camvault_upload_queue_files", "gauge"),
        ("camvault_camera_fps", "gauge"),
        ("camvault_camera_bitrate_bits_per_second", "gauge"),
        ("camvault_camera_frame_loss_ratio", "gauge"),
        ("camvault_camera_missing_seconds_24h", "gauge"),
        ("camvault_card_written_bytes_per_day", "gauge"),
    ] {
        assert_eq!(m[family][0], kind, "{family} in {m}");
    }
    let recording: Vec<(String, f64)> = m["camvault_camera_recording"][2]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s[0]["camera"].as_str().unwrap().to_string(),
                s[1].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        recording,
        [("front".to_string(), 1.0), ("yard".to_string(), 1.0)],
        "{m}"
    );
    assert!(m["camvault_disk_used_bytes"][2][0][1].as_f64().unwrap() > 0.0);

    // The page in a real browser: both cameras, with their pictures.
    let profile = dir.path().join("chromium");
    let page = format!("http://admin:{password}@{}:8080/", lan.dev_ip);
    let dom = chromium(&lan, &profile, &page, &["--dump-dom"]);
    for cam in ["front", "yard"] {
        assert!(dom.contains(&format!("id=\"camera-{cam}\"")), "{dom}");
        assert!(
            dom.contains(&format!("src=\"/snapshot/{cam}.jpg\"")),
            "{dom}"
        );
    }
    assert!(dom.contains("recording"), "{dom}");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lan-status-page.png");
    chromium(
        &lan,
        &profile,
        &page,
        &[&format!("--screenshot={}", shot.display())],
    );
    let colour = peer(&lan, &["saturated", shot.to_str().unwrap()]);
    // Each camera's test pattern covers about a seventh of the phone-sized page; the page
    // itself is grey and white.
    let share = colour["share"].as_f64().unwrap();
    assert!(
        share > 0.15,
        "both pictures drawn: {colour} ({})",
        shot.display()
    );
    println!("screenshot {} ({colour})", shot.display());

    // 1,000 requests, good, wrong and malformed: the right answer to each, and no harm done.
    let outcomes = peer(
        &lan,
        &["hammer", &lan.dev_ip, "8080", "1000", "admin", &password],
    );
    println!("hammer: {outcomes}");
    let o = outcomes.as_object().unwrap();
    for (key, n) in o {
        let (kind, code) = key.split_once(':').unwrap();
        match kind {
            "0" => assert!(["200", "404"].contains(&code), "{key} ×{n}"),
            "1" | "2" => assert_eq!(code, "401", "{key} ×{n}"),
            "4" => assert!(
                ["405", "401"].contains(&code) || code == "200",
                "{key} ×{n}"
            ),
            _ => assert!(!code.starts_with('2'), "garbage got {key} ×{n}"),
        }
    }
    assert_eq!(
        http_code(&lan, &format!("{base}/metrics"), Some(&auth)),
        "200"
    );
    let st = status(&cfg);
    for cam in ["front", "yard"] {
        assert_eq!(st["cameras"][cam]["state"], "recording", "{st}");
    }
    let log = daemon.log();
    assert!(
        !log.contains(&password),
        "the password never reaches the log"
    );
    assert!(!log.contains("panicked"), "{log}");
}

const ONVIF_URN: &str = "urn:uuid:6c1a3b9e-5d4f-4c2b-9a7e-0123456789ab";

/// tests/support/onvif_camera.py in the peer's namespace, its clock three days slow.
struct OnvifCamera {
    child: std::process::Child,
    calls: std::sync::Arc<std::sync::Mutex<String>>,
}

impl OnvifCamera {
    fn start(lan: &Lan, stream: &str, password: &str) -> OnvifCamera {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/onvif_camera.py");
        let mut child = Lan::exec(&lan.peer, &peer_py())
            .args([script, &lan.peer_ip, "8000", stream, "onvif", password])
            .arg("--clock-offset=-259200")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the ONVIF camera");
        let out = child.stdout.take().unwrap();
        let calls = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = calls.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if line == "ready" {
                    let _ = tx.send(());
                }
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the ONVIF camera did not start");
        OnvifCamera { child, calls }
    }

    fn calls(&self) -> String {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for OnvifCamera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_onvif_camera_is_found_by_its_urn_tells_its_stream_and_is_recorded() {
    let lan = Lan::new("o");
    let rtsp = RtspCamera::start_in(&lan.peer, &lan.peer_ip, 8554);
    let camera_password = "cam-pass-123";
    let onvif = OnvifCamera::start(&lan, &rtsp.url(), camera_password);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("onvif.secret");
    write_secret(&secret, camera_password, 0o600);
    let cfg = config(
        dir.path(),
        &format!(
            "[recording]\nsegment_seconds = 10\n\n[discovery]\nauto_record = \"all\"\n\
             onvif_username = \"onvif\"\nonvif_password_file = \"{}\"\nprobe_seconds = 2\n",
            secret.display()
        ),
    );
    let data = dir.path().join("data");
    let mut daemon = Daemon::start_in(&lan.dev, &cfg, &data);

    // auto_record = "all": found at start, kept, and recorded after one restart in place.
    wait_for(
        "the found camera recording",
        Duration::from_secs(90),
        || {
            let st = status(&cfg);
            st["cameras"]["testcam-front"]["state"] == "recording"
        },
    );
    wait_for(
        "a segment of the found camera",
        Duration::from_secs(60),
        || {
            segments(&cfg)
                .iter()
                .any(|s| s["camera"] == "testcam-front" && !s["end"].is_null())
        },
    );
    let log = daemon.log();
    assert_eq!(
        log.matches("camvault running").count(),
        2,
        "one restart, to take the camera in: {log}"
    );
    assert_eq!(daemon.child.try_wait().unwrap(), None, "the same process");

    let found = cli_json(&cfg, &["discover", "--json"]);
    println!("discover: {found}");
    let cams = found["onvif"].as_array().unwrap();
    assert_eq!(cams.len(), 1, "{found}");
    let cam = &cams[0];
    assert_eq!(cam["urn"], ONVIF_URN, "keyed by its endpoint URN: {cam}");
    assert_eq!(cam["address"], lan.peer_ip.as_str());
    assert_eq!(cam["name"], "Testcam Front");
    assert_eq!(cam["manufacturer"], "Testcam");
    assert_eq!(cam["model"], "TC-100");
    assert_eq!(cam["mac"], "02:00:00:aa:bb:cc");
    assert_eq!(cam["media"], "media2");
    // Its clock is three days slow; camvault signed with the camera's time, not its own.
    let offset = cam["clock_offset_s"].as_i64().unwrap();
    assert!((offset + 259_200).abs() < 10, "{cam}");
    assert_eq!(cam["streams"][0]["uri"], rtsp.url().as_str(), "{cam}");
    assert_eq!(cam["error"], serde_json::Value::Null, "{cam}");
    let calls = onvif.calls();
    assert!(calls.contains("call GetStreamUri ok"), "{calls}");
    assert!(!calls.contains("stale timestamp"), "{calls}");
    assert!(
        found["rtsp"].is_array() && found["v4l2"].is_array(),
        "{found}"
    );

    let log = daemon.log();
    assert!(
        log.contains(ONVIF_URN),
        "camera.discovered is logged: {log}"
    );
    assert!(!log.contains(camera_password), "{log}");
    assert!(!found.to_string().contains(camera_password));
}

#[test]
fn https_with_the_devices_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = config(
        dir.path(),
        &format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\npassword = \"pw-123456\"\ntls = true\n\n\
             [discovery]\nannounce = false\nauto_record = \"off\"\n"
        ),
    );
    let data = dir.path().join("data");
    let _daemon = Daemon::start(&cfg, &data, &[]);
    let (cert, key) = (data.join("http.crt"), data.join("http.key"));
    wait_for(
        "the self-signed certificate",
        Duration::from_secs(10),
        || cert.exists() && key.exists(),
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A client that connects and says nothing holds up no one.
    let _silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let host = format!("camvault-cv-test.local:{port}");
    let curl = |scheme: &str, auth: &str| {
        let mut c = Command::new("curl");
        c.arg("--cacert")
            .arg(&cert)
            .args(["--resolve", &format!("{host}:127.0.0.1")]);
        status_code(c, &format!("{scheme}://{host}/metrics"), Some(auth))
    };
    // The certificate is for the device's mDNS name, and a client that trusts it verifies it.
    wait_for("HTTPS answers", Duration::from_secs(10), || {
        curl("https", "admin:pw-123456") == "200"
    });
    assert_eq!(curl("https", "admin:wrong-pass"), "401");
    assert_eq!(
        curl("http", "admin:pw-123456"),
        "000",
        "no plain HTTP on the TLS port"
    );
}
