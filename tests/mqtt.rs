//! MQTT against a real mosquitto (password auth; TLS), started by the test: availability and
//! the last will, state, alerts, commands and replies, bad-input bursts, broker restarts, Home
//! Assistant discovery, and no secret in any payload.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, Incoming, MqttOptions, QoS};
use serde_json::{Value, json};

use common::*;

const USER: &str = BROKER_USER;
const PASS: &str = BROKER_PASS;
const CAM_PASS: &str = "CanaryCam66";

/// A plain test client that forwards every message it receives.
struct Peer {
    client: Client,
    rx: mpsc::Receiver<(String, Vec<u8>, bool)>,
}

impl Peer {
    fn connect(port: u16, topics: &[&str]) -> Peer {
        let mut o = MqttOptions::new(format!("peer-{}", free_port()), "127.0.0.1", port);
        o.set_credentials(USER, PASS);
        o.set_max_packet_size(1 << 20, 1 << 20);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut conn) = Client::new(o, 4096);
        for t in topics {
            client.subscribe(*t, QoS::AtLeastOnce).unwrap();
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        if tx
                            .send((p.topic.clone(), p.payload.to_vec(), p.retain))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        Peer { client, rx }
    }

    fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .unwrap();
    }

    /// The first message satisfying `pred` within `timeout`.
    fn expect(
        &self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str, &[u8]) -> bool,
    ) -> (String, Vec<u8>) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((t, p, _)) if pred(&t, &p) => return (t, p),
                Ok(_) => {}
                Err(_) => panic!("no {what} within {timeout:?}"),
            }
        }
    }

    fn drain(&self) -> Vec<(String, Vec<u8>, bool)> {
        let mut v = Vec::new();
        while let Ok(m) = self.rx.recv_timeout(Duration::from_millis(300)) {
            v.push(m);
        }
        v
    }
}

fn json_of(p: &[u8]) -> Value {
    serde_json::from_slice(p).unwrap_or(Value::Null)
}

const BASE: &str = "camvault/cv-test";

fn mqtt_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    config(
        dir,
        &format!(
            "[[camera]]\nname = \"front\"\nsource = \"test:\"\n{extra}\n[mqtt]\nurl = \"mqtt://{USER}:{PASS}@127.0.0.1:{port}\"\nhealth_interval_seconds = 2\n"
        ),
    )
}

fn rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn availability_state_discovery_and_the_last_will() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), None);
    let closed = free_port();
    let extra = format!(
        "[[camera]]\nname = \"side\"\nsource = \"rtsp://admin:{CAM_PASS}@127.0.0.1:{closed}/s\"\n"
    );
    let cfg = mqtt_config(dir.path(), broker.port, &extra);
    let daemon = Daemon::start(&cfg, &dir.path().join("data"), &[]);
    let peer = Peer::connect(broker.port, &[&format!("{BASE}/#"), "homeassistant/#"]);

    peer.expect("availability online", Duration::from_secs(10), |t, p| {
        t == format!("{BASE}/availability") && p == b"online"
    });
    let (_, state) = peer.expect(
        "a state with the front camera recording",
        Duration::from_secs(30),
        |t, p| {
            t == format!("{BASE}/state") && json_of(p)["cameras"]["front"]["state"] == "recording"
        },
    );
    let s = json_of(&state);
    for key in [
        "device_id",
        "version",
        "uptime_s",
        "cpu_percent",
        "mem_used_bytes",
        "mem_total_bytes",
        "temperature_c",
        "disk",
        "cameras",
        "queue",
        "relay",
        "alerts",
    ] {
        assert!(s.get(key).is_some(), "state lacks {key}: {s}");
    }
    for key in ["path", "total_bytes", "free_bytes", "used_percent"] {
        assert!(s["disk"].get(key).is_some(), "disk lacks {key}");
    }
    for key in [
        "state",
        "fps",
        "bitrate_kbps",
        "frame_loss_percent",
        "last_segment_end",
        "restarts",
        "missing_seconds_24h",
    ] {
        assert!(
            s["cameras"]["front"].get(key).is_some(),
            "camera lacks {key}"
        );
    }
    for key in [
        "pending",
        "pending_bytes",
        "oldest_pending_age_s",
        "uploading",
        "failed",
        "uploaded_24h",
    ] {
        assert!(s["queue"].get(key).is_some(), "queue lacks {key}");
    }
    for key in ["state", "current_file", "pending", "sent", "failed"] {
        assert!(s["relay"].get(key).is_some(), "relay lacks {key}");
    }

    // Discovery (retained, so a new subscriber gets it all): every entity, each with what
    // Home Assistant requires.
    let ha = Peer::connect(broker.port, &["homeassistant/#", &format!("{BASE}/#")]);
    let msgs = ha.drain();
    let configs: HashMap<String, Value> = msgs
        .iter()
        .filter(|(t, _, _)| t.starts_with("homeassistant/"))
        .map(|(t, p, _)| (t.clone(), json_of(p)))
        .collect();
    for cam in ["front", "side"] {
        for (component, object) in [
            ("binary_sensor", "recording"),
            ("switch", "record"),
            ("button", "snapshot"),
            ("button", "clip"),
            ("camera", "latest"),
            ("sensor", "state"),
            ("sensor", "fps"),
            ("sensor", "bitrate"),
            ("sensor", "frame_loss"),
            ("sensor", "missing_24h"),
            ("sensor", "last_segment"),
            ("event", "media"),
        ] {
            let topic = format!("homeassistant/{component}/cv-test/{cam}_{object}/config");
            assert!(configs.contains_key(&topic), "missing {topic}");
        }
    }
    // Uploads are off here: the queue's sensors are removed, not shown stale.
    for object in [
        "cpu",
        "memory",
        "temperature",
        "disk_used",
        "disk_free",
        "written_per_day",
    ] {
        assert!(
            configs.contains_key(&format!("homeassistant/sensor/cv-test/{object}/config")),
            "missing sensor {object}"
        );
    }
    for (topic, c) in &configs {
        assert!(
            c["unique_id"].is_string() && c["name"].is_string(),
            "{topic}"
        );
        assert_eq!(
            c["availability_topic"],
            format!("{BASE}/availability"),
            "{topic}"
        );
        assert!(
            c["device"]["identifiers"].is_array() && c["device"]["sw_version"].is_string(),
            "{topic}"
        );
        if topic.contains("/camera/") {
            // Home Assistant's MQTT camera: raw JPEG bytes on `topic`.
            assert!(
                c["topic"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{BASE}/camera/")),
                "{topic}"
            );
        } else if topic.contains("/switch/") || topic.contains("/button/") {
            assert!(
                c["command_topic"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{BASE}/cmd/")),
                "{topic}"
            );
        } else if topic.contains("_last_segment/") {
            assert_eq!(
                c["state_topic"],
                format!("{BASE}/camera/front/last_segment").replace(
                    "front",
                    topic
                        .split('/')
                        .nth(3)
                        .unwrap()
                        .trim_end_matches("_last_segment")
                ),
                "{topic}"
            );
        } else if topic.contains("/event/") {
            assert_eq!(c["state_topic"], format!("{BASE}/event"), "{topic}");
        } else {
            assert_eq!(c["state_topic"], format!("{BASE}/state"), "{topic}");
        }
    }
    assert!(
        configs.contains_key("homeassistant/update/cv-test/firmware/config"),
        "the update entity"
    );
    // The camera entity has a picture without anyone pressing a button: the preview taken
    // when the camera started recording, retained.
    // It may be published before this subscriber came (then it arrives retained) or just
    // after (then live): either way a later subscriber gets it retained.
    let image_topic = format!("{BASE}/camera/front/image");
    let jpeg = match msgs.iter().find(|(t, _, _)| t == &image_topic) {
        Some((_, p, _)) => p.clone(),
        None => {
            ha.expect("the start preview", Duration::from_secs(60), |t, _| {
                t == image_topic
            })
            .1
        }
    };
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG");
    let late = Peer::connect(broker.port, &[&image_topic]);
    let (_, p, retained) = late
        .rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the preview, retained, for a later subscriber");
    assert!(retained && p == jpeg, "the preview is retained");
    // No secret in any payload.
    for (t, p, _) in &msgs {
        let text = String::from_utf8_lossy(p);
        assert!(
            !text.contains(PASS) && !text.contains(CAM_PASS),
            "secret in {t}"
        );
    }
    assert!(!String::from_utf8_lossy(&state).contains(CAM_PASS));

    // kill -9: the broker publishes the will, well within 1.5 × keep-alive (15 s).
    let t = Instant::now();
    daemon.signal(SIGKILL);
    peer.expect(
        "availability offline (last will)",
        Duration::from_secs(23),
        |t, p| t == format!("{BASE}/availability") && p == b"offline",
    );
    eprintln!("will after {:?}", t.elapsed());
}

#[test]
fn commands_round_trip_and_a_burst_of_bad_ones_harms_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), None);
    let cfg = mqtt_config(dir.path(), broker.port, "");
    let daemon = Daemon::start(&cfg, &dir.path().join("data"), &[]);
    let peer = Peer::connect(
        broker.port,
        &[&format!("{BASE}/cmd/+/reply"), &format!("{BASE}/state")],
    );
    peer.expect("front recording", Duration::from_secs(30), |t, p| {
        t.ends_with("/state") && json_of(p)["cameras"]["front"]["state"] == "recording"
    });

    let ask = |name: &str, args: Value, id: &str| -> Value {
        let mut body = args;
        body["request_id"] = json!(id);
        peer.publish(&format!("{BASE}/cmd/{name}"), body.to_string());
        let (_, p) = peer.expect(
            &format!("reply to {id}"),
            Duration::from_secs(10),
            |t, p| t == format!("{BASE}/cmd/{name}/reply") && json_of(p)["request_id"] == id,
        );
        json_of(&p)
    };
    assert_eq!(ask("status", json!({}), "s1")["ok"], true);
    assert_eq!(
        ask("record", json!({"camera": "nope", "enabled": true}), "r3")["ok"],
        false
    );
    assert_eq!(ask("discover", json!({}), "d1")["ok"], true);
    let reboot = ask("reboot", json!({}), "b1");
    assert!(
        reboot["ok"] == false
            && reboot["error"]
                .as_str()
                .unwrap()
                .contains("allow_remote_reboot"),
        "{reboot}"
    );
    // A snapshot: the reply names the JPEG, and it becomes the camera entity's image.
    let images = Peer::connect(broker.port, &[&format!("{BASE}/camera/front/image")]);
    let snap = ask("snapshot", json!({"camera": "front"}), "snap-1");
    assert_eq!(snap["ok"], true, "{snap}");
    let path = snap["result"]["path"].as_str().unwrap();
    let taken = std::fs::read(dir.path().join("data").join(path)).unwrap();
    assert!(taken.starts_with(&[0xFF, 0xD8]), "a JPEG");
    // The camera's start-up preview may still arrive first: wait for this one.
    images.expect("the snapshot image", Duration::from_secs(10), |_, p| {
        p == taken.as_slice()
    });
    let r = ask("relay", json!({"action": "start"}), "relay-1");
    assert!(
        r["ok"] == false && r["error"].as_str().unwrap().contains("relay is off"),
        "{r}"
    );
    let ota =
        json!({"url": "https://x/b", "sha256": "a".repeat(64), "signature": "s", "version": "2"});
    let r = ask("ota", ota, "ota-1");
    assert!(
        r["ok"] == false
            && r["error"]
                .as_str()
                .unwrap()
                .contains("need the camvault image"),
        "ota: {r}"
    );
    let up = ask("upload", json!({"action": "pause"}), "up-1");
    assert!(
        up["ok"] == false && up["error"].as_str().unwrap().contains("uploads are off"),
        "{up}"
    );
    assert!(
        ask("selfdestruct", json!({}), "u1")["error"]
            .as_str()
            .unwrap()
            .contains("unknown command")
    );
    peer.drain();

    let rss_before = rss_kib(daemon.pid());
    let big = "x".repeat(70 * 1024);
    for i in 0..1000 {
        let (topic, payload) = match i % 5 {
            0 => ("status".to_string(), "{not json".to_string()),
            1 => (format!("nope{i}"), "{}".to_string()),
            2 => ("record".to_string(), json!({"camera": "front"}).to_string()),
            3 => ("status".to_string(), format!("{{\"pad\":\"{big}\"}}")),
            _ => (
                "clip".to_string(),
                json!({"camera": "front", "pre_s": 99999}).to_string(),
            ),
        };
        peer.publish(&format!("{BASE}/cmd/{topic}"), payload);
    }
    let replies: Vec<Value> = peer
        .drain()
        .into_iter()
        .filter(|(t, _, _)| t.ends_with("/reply"))
        .map(|(_, p, _)| json_of(&p))
        .collect();
    assert!(
        replies.iter().all(|r| r["ok"] == false),
        "every answer is a refusal"
    );
    assert!(
        replies
            .iter()
            .any(|r| r["error"].as_str().unwrap().contains("larger than 65536"))
    );
    // Recording went on, the daemon still answers, memory stayed flat.
    let after = ask("status", json!({}), "s2");
    if after["result"]["cameras"]["front"]["state"] != "recording" {
        daemon.signal(SIGTERM);
        panic!("{after}\n{}", daemon.wait(Duration::from_secs(10)).1);
    }
    let growth = rss_kib(daemon.pid()).saturating_sub(rss_before);
    assert!(growth < 8 * 1024, "RSS grew {growth} KiB");
    // record stops and starts the camera.
    assert_eq!(
        ask("record", json!({"camera": "front", "enabled": false}), "r1")["ok"],
        true
    );
    peer.expect("front stopped", Duration::from_secs(10), |t, p| {
        t.ends_with("/state") && json_of(p)["cameras"]["front"]["state"] == "stopped"
    });
    assert_eq!(
        ask("record", json!({"camera": "front", "enabled": true}), "r2")["ok"],
        true
    );
    peer.expect("front recording again", Duration::from_secs(20), |t, p| {
        t.ends_with("/state") && json_of(p)["cameras"]["front"]["state"] == "recording"
    });
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(10));
    assert_eq!(code, 0);
    // Each one answered, or dropped and counted.
    let dropped: usize = log
        .lines()
        .find_map(|l| l.split("commands_dropped=").nth(1))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    eprintln!(
        "{} of 1000 bad commands answered, {dropped} dropped and counted",
        replies.len()
    );
    assert_eq!(replies.len() + dropped, 1000);
}

/// What a hostile or careless broker user can send: a retained command (it would run at every
/// reconnect), a retained 2 MiB message, clips far in the future that would hold every slot,
/// another client's `offline` on our availability topic.
#[test]
fn retained_oversized_and_slot_hogging_commands_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), None);
    let cfg = mqtt_config(dir.path(), broker.port, "");
    let data = dir.path().join("data");
    let peer = Peer::connect(
        broker.port,
        &[
            &format!("{BASE}/cmd/+/reply"),
            &format!("{BASE}/state"),
            &format!("{BASE}/availability"),
        ],
    );
    // Left on the broker before the daemon connects (MQTT hands a retained message over with
    // its flag only then): a `record` that would stop the camera at every reconnect, and a
    // 2 MiB command, over the command size limit.
    let stop = json!({"camera": "front", "enabled": false, "request_id": "ret-1"}).to_string();
    peer.client
        .publish(format!("{BASE}/cmd/record"), QoS::AtLeastOnce, true, stop)
        .unwrap();
    let mut o = MqttOptions::new("big-sender", "127.0.0.1", broker.port);
    o.set_credentials(USER, PASS);
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (big, mut conn) = Client::new(o, 16);
    std::thread::spawn(move || for _ in conn.iter() {});
    big.publish(
        format!("{BASE}/cmd/status"),
        QoS::AtLeastOnce,
        true,
        vec![b'x'; 2 << 20],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let daemon = Daemon::start(&cfg, &data, &[]);
    let refused = |name: &'static str| {
        move |t: &str, p: &[u8]| {
            t.ends_with(&format!("/cmd/{name}/reply"))
                && json_of(p)["ok"] == false
                && json_of(p)["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("retained")
        }
    };
    // Both refusals, in whichever order they come.
    let (record, status) = (refused("record"), refused("status"));
    let (mut got_record, mut got_status) = (false, false);
    peer.expect(
        "both retained commands refused",
        Duration::from_secs(30),
        |t, p| {
            got_record |= record(t, p);
            got_status |= status(t, p);
            got_record && got_status
        },
    );
    let recording = |p: &[u8]| json_of(p)["cameras"]["front"]["state"] == "recording";
    peer.expect("front recording", Duration::from_secs(30), |t, p| {
        t.ends_with("/state") && recording(p)
    });

    // Sixteen clips waiting for a post-roll five minutes away fill the clip slots; a status
    // still gets its answer, and a clip two hours ahead is refused at once.
    let far = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    peer.publish(
        &format!("{BASE}/cmd/clip"),
        json!({"camera": "front", "at": far, "request_id": "far"}).to_string(),
    );
    let (_, r) = peer.expect("the far clip refused", Duration::from_secs(10), |t, p| {
        t.ends_with("/cmd/clip/reply") && json_of(p)["request_id"] == "far"
    });
    assert!(json_of(&r)["error"].as_str().unwrap().contains("future"));
    let at = (chrono::Utc::now() + chrono::Duration::seconds(300)).to_rfc3339();
    for i in 0..16 {
        let clip = json!({"camera": "front", "at": at, "request_id": format!("c{i}")});
        peer.publish(&format!("{BASE}/cmd/clip"), clip.to_string());
    }
    peer.publish(
        &format!("{BASE}/cmd/clip"),
        json!({"camera": "front", "at": at, "request_id": "c16"}).to_string(),
    );
    let (_, r) = peer.expect(
        "the 17th clip waits for no slot",
        Duration::from_secs(10),
        |t, p| t.ends_with("/cmd/clip/reply") && json_of(p)["request_id"] == "c16",
    );
    assert!(
        json_of(&r)["error"].as_str().unwrap().contains("busy"),
        "{r:?}"
    );
    peer.publish(
        &format!("{BASE}/cmd/status"),
        json!({"request_id": "st"}).to_string(),
    );
    let (_, r) = peer.expect("status answered", Duration::from_secs(10), |t, p| {
        t.ends_with("/cmd/status/reply") && json_of(p)["request_id"] == "st"
    });
    assert_eq!(json_of(&r)["ok"], true);

    // Another client says we are offline: we say online again.
    let liar = Peer::connect(broker.port, &[]);
    liar.client
        .publish(
            format!("{BASE}/availability"),
            QoS::AtLeastOnce,
            true,
            "offline",
        )
        .unwrap();
    peer.expect("online again", Duration::from_secs(10), |t, p| {
        t.ends_with("/availability") && p == b"online"
    });

    // A restart: the retained record and the retained 2 MiB message come again, and change
    // nothing.
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(15));
    assert_eq!(code, 0);
    assert_eq!(
        log.matches("mqtt: connected").count(),
        1,
        "no reconnect in the first run"
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    peer.expect("refused again", Duration::from_secs(30), refused("record"));
    peer.expect(
        "recording after the restart",
        Duration::from_secs(30),
        |t, p| t.ends_with("/state") && recording(p),
    );
    std::thread::sleep(Duration::from_secs(3));
    let states: Vec<Value> = peer
        .drain()
        .into_iter()
        .filter(|(t, _, _)| t.ends_with("/state"))
        .map(|(_, p, _)| json_of(&p))
        .collect();
    assert!(
        !states.is_empty()
            && states
                .iter()
                .all(|s| s["cameras"]["front"]["state"] == "recording"),
        "the retained record never stopped the camera"
    );
    daemon.signal(SIGTERM);
    let (code, log) = daemon.wait(Duration::from_secs(15));
    assert_eq!(code, 0);
    assert_eq!(log.matches("mqtt: connected").count(), 1, "{log}");
}

#[test]
fn reconnects_after_twenty_broker_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path(), None);
    let cfg = mqtt_config(dir.path(), broker.port, "");
    let daemon = Daemon::start(&cfg, &dir.path().join("data"), &[]);
    let mut worst = Duration::ZERO;
    for round in 0..20 {
        broker.kill();
        std::thread::sleep(Duration::from_millis(300 + 100 * (round % 5)));
        broker.resume();
        let back = Instant::now();
        // Re-subscribed: a command gets its answer.
        let peer = Peer::connect(broker.port, &[&format!("{BASE}/cmd/status/reply")]);
        let id = format!("round{round}");
        loop {
            peer.publish(
                &format!("{BASE}/cmd/status"),
                json!({"request_id": id}).to_string(),
            );
            if let Ok((_, p, _)) = peer.rx.recv_timeout(Duration::from_millis(500))
                && json_of(&p)["request_id"] == id.as_str()
            {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "round {round}: no answer within 5 s of the broker's return"
            );
        }
        worst = worst.max(back.elapsed());
    }
    eprintln!("slowest reconnect: {worst:?}");
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}

#[test]
fn tls_broker_and_alerts_raised_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certs(&certs);
    let tls_port = free_port();
    let broker = Broker::start(dir.path(), Some((tls_port, &certs)));
    // A camera that is not there yet (recording_stopped after 30 s), and disk thresholds
    // this disk is surely over.
    let cam_port = free_port();
    let extra = format!(
        "[[camera]]\nname = \"late\"\nsource = \"rtsp://127.0.0.1:{cam_port}/stream\"\n[mqtt]\nurl = \"mqtts://127.0.0.1:{tls_port}\"\nusername = \"{USER}\"\npassword = \"{PASS}\"\nca_file = \"{}/ca.pem\"\nhealth_interval_seconds = 2\n[retention]\ndisk_warn_percent = 1\ndisk_critical_percent = 2\n",
        certs.display()
    );
    let cfg = config(dir.path(), &extra);
    let daemon = Daemon::start(&cfg, &dir.path().join("data"), &[]);
    // The test's own client uses the plain listener; camvault uses TLS.
    let peer = Peer::connect(broker.port, &[&format!("{BASE}/#")]);
    peer.expect(
        "availability online over TLS",
        Duration::from_secs(10),
        |t, p| t.ends_with("/availability") && p == b"online",
    );
    let raised = |code: &'static str| {
        move |t: &str, p: &[u8]| {
            t.ends_with("/event")
                && json_of(p)["type"] == "alert.raised"
                && json_of(p)["code"] == code
        }
    };
    peer.expect(
        "disk_critical raised",
        Duration::from_secs(15),
        raised("disk_critical"),
    );
    peer.expect(
        "recording_stopped raised",
        Duration::from_secs(45),
        |t, p| raised("recording_stopped")(t, p) && json_of(p)["camera"] == "late",
    );
    let (_, state) = peer.expect("alerts in the state", Duration::from_secs(10), |t, p| {
        t.ends_with("/state")
            && json_of(p)["alerts"]
                .as_array()
                .is_some_and(|a| a.len() >= 3)
    });
    let codes: Vec<String> = json_of(&state)["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_string())
        .collect();
    for c in ["disk_warn", "disk_critical", "recording_stopped"] {
        assert!(codes.iter().any(|x| x == c), "{c} missing from {codes:?}");
    }
    let _camera = RtspCamera::start(cam_port, None);
    // The recorder's retry backoff reaches 32 s (its cap is 60) by the time the camera
    // appears, so the next try can be that far off.
    peer.expect(
        "recording_stopped cleared",
        Duration::from_secs(90),
        |t, p| {
            t.ends_with("/event")
                && json_of(p)["type"] == "alert.cleared"
                && json_of(p)["code"] == "recording_stopped"
        },
    );
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
    peer.expect(
        "availability offline on a clean stop",
        Duration::from_secs(5),
        |t, p| t.ends_with("/availability") && p == b"offline",
    );
}

#[test]
fn a_camera_removed_from_the_config_leaves_home_assistant() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), None);
    let data = dir.path().join("data");
    let side = "[[camera]]\nname = \"side\"\nsource = \"test:\"\nenabled = false\n";
    let cfg = mqtt_config(dir.path(), broker.port, side);
    let daemon = Daemon::start(&cfg, &data, &[]);
    let topic = "homeassistant/switch/cv-test/side_record/config";
    let peer = Peer::connect(broker.port, &[topic]);
    peer.expect(
        "the side camera's switch",
        Duration::from_secs(10),
        |t, p| t == topic && !p.is_empty(),
    );
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);

    // Without the side camera: its retained configs are emptied, which removes the entities.
    let cfg = mqtt_config(dir.path(), broker.port, "");
    let daemon = Daemon::start(&cfg, &data, &[]);
    peer.expect(
        "the side camera's switch removed",
        Duration::from_secs(10),
        |t, p| t == topic && p.is_empty(),
    );
    // Each config's latest payload: the removals are published one after another, so a
    // retained config may still arrive before its empty successor.
    let fresh = Peer::connect(broker.port, &["homeassistant/#"]);
    let mut latest: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        for (t, p, _) in fresh.drain() {
            latest.insert(t, p);
        }
        let left: Vec<&String> = latest
            .iter()
            .filter(|(t, p)| t.contains("/side_") && !p.is_empty())
            .map(|(t, _)| t)
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            break format!("{left:?}");
        }
    };
    assert_eq!(left, "[]", "still announced");
    daemon.signal(SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(10)).0, 0);
}
