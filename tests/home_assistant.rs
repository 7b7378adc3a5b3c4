//! camvault as a real Home Assistant Core sees it, through a real mosquitto: the entity
//! registry and states, no discovery warnings, the record switch and the snapshot button
//! driven through HA's REST API, the camera picture at `/api/camera_proxy`, and availability
//! across a kill -9 of camvault. HA is installed by `make deps` (scripts/home-assistant.sh).

mod common;

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{Value, json};

use common::*;

const HA_VERSION: &str = "2024.3.3";
const DEV: &str = "camvault_cv_test";

/// A Home Assistant Core in its own process group, with an MQTT config entry for `broker`
/// and an onboarded user whose token the test uses.
struct HomeAssistant {
    child: Child,
    port: u16,
    config: PathBuf,
    token: String,
}

impl HomeAssistant {
    fn start(dir: &Path, broker: u16) -> HomeAssistant {
        let venv = std::env::var_os("CAMVAULT_HA_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap())
                    .join(format!(".cache/camvault/ha-{HA_VERSION}"))
            });
        let hass = venv.join("bin/hass");
        assert!(
            hass.exists(),
            "no Home Assistant at {}: `make deps` installs it (scripts/home-assistant.sh)",
            hass.display()
        );
        let port = free_port();
        let config = dir.join("ha");
        std::fs::create_dir_all(config.join(".storage")).unwrap();
        write(
            &config.join("configuration.yaml"),
            &format!(
                "homeassistant:\n  name: camvault-test\n  latitude: 0\n  longitude: 0\n  elevation: 0\n  \
                 unit_system: metric\n  time_zone: UTC\n  currency: EUR\n  country: DE\n\
                 http:\n  server_host: 127.0.0.1\n  server_port: {port}\n\
                 api:\nonboarding:\nlogger:\n  default: warning\n"
            ),
        );
        // MQTT is configured through a config entry (YAML no longer can): written as the
        // config flow would have.
        let entry = json!({
            "version": 1, "minor_version": 1, "key": "core.config_entries",
            "data": { "entries": [{
                "entry_id": "camvaulttestmqtt0001", "version": 1, "minor_version": 1,
                "domain": "mqtt", "title": "127.0.0.1",
                "data": {
                    "broker": "127.0.0.1", "port": broker, "discovery": true,
                    "username": BROKER_USER, "password": BROKER_PASS,
                },
                "options": {}, "pref_disable_new_entities": false,
                "pref_disable_polling": false, "source": "user",
                "unique_id": null, "disabled_by": null,
            }]},
        });
        write(
            &config.join(".storage/core.config_entries"),
            &entry.to_string(),
        );
        let log = std::fs::File::create(dir.join("hass.out")).unwrap();
        let child = Command::new(&hass)
            .arg("-c")
            .arg(&config)
            .arg("--log-file")
            .arg(config.join("ha.log"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start hass");
        let mut ha = HomeAssistant {
            child,
            port,
            config,
            token: String::new(),
        };
        wait_for("Home Assistant's API", Duration::from_secs(240), || {
            if let Ok(Some(s)) = ha.child.try_wait() {
                panic!("hass exited: {s}; see {}", dir.join("hass.out").display());
            }
            ha.call("GET", "/api/onboarding", None).0 == 200
        });
        let client = format!("http://127.0.0.1:{port}/");
        let (code, body) = ha.call(
            "POST",
            "/api/onboarding/users",
            Some(json!({
                "client_id": client, "name": "Test", "username": "test",
                "password": "test-password-1", "language": "en",
            })),
        );
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        let code_ = serde_json::from_slice::<Value>(&body).unwrap()["auth_code"]
            .as_str()
            .unwrap()
            .to_string();
        let out = Command::new("curl")
            .args(["-s", "-S", "-X", "POST", "--data"])
            .arg(format!(
                "grant_type=authorization_code&code={code_}&client_id={client}"
            ))
            .arg(format!("http://127.0.0.1:{port}/auth/token"))
            .output()
            .unwrap();
        let token: Value = serde_json::from_slice(&out.stdout).unwrap();
        ha.token = token["access_token"].as_str().unwrap().to_string();
        ha
    }

    /// (HTTP status, body) of one REST call.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Vec<u8>) {
        let mut c = Command::new("curl");
        c.args([
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-m",
            "30",
            "-X",
            method,
        ]);
        if !self.token.is_empty() {
            c.arg("-H")
                .arg(format!("Authorization: Bearer {}", self.token));
        }
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "--data"])
                .arg(b.to_string());
        }
        let out = c
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .unwrap();
        let mut bytes = out.stdout;
        let split = bytes.iter().rposition(|b| *b == b'\n').unwrap_or(0);
        let code = String::from_utf8_lossy(&bytes[split..])
            .trim()
            .parse()
            .unwrap_or(0);
        bytes.truncate(split);
        (code, bytes)
    }

    fn states(&self) -> HashMap<String, Value> {
        let (code, body) = self.call("GET", "/api/states", None);
        if code != 200 {
            return HashMap::new();
        }
        serde_json::from_slice::<Vec<Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s["entity_id"].as_str().unwrap_or("").to_string(), s))
            .collect()
    }

    fn state(&self, entity: &str) -> String {
        self.states()
            .get(entity)
            .and_then(|s| s["state"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn service(&self, domain: &str, service: &str, entity: &str) {
        let (code, body) = self.call(
            "POST",
            &format!("/api/services/{domain}/{service}"),
            Some(json!({ "entity_id": entity })),
        );
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    }

    fn picture(&self, camera: &str) -> (u16, Vec<u8>) {
        self.call("GET", &format!("/api/camera_proxy/{camera}"), None)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.config.join("ha.log")).unwrap_or_default()
    }

    /// A clean stop, so HA writes its registries; SIGKILL if it takes too long.
    fn stop(mut self) {
        kill_group(&self.child, nix::sys::signal::Signal::SIGTERM);
        let child = &mut self.child;
        wait_for("Home Assistant to stop", Duration::from_secs(90), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
    }
}

impl Drop for HomeAssistant {
    fn drop(&mut self) {
        kill_group(&self.child, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn entity(component: &str, object: &str) -> String {
    format!("{component}.{DEV}_{object}")
}

#[test]
fn home_assistant_sees_drives_and_loses_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), None);
    let data = dir.path().join("data");
    let cfg = config(
        dir.path(),
        &format!(
            "[recording]\nsegment_seconds = 10\nfragment_seconds = 1\n\n\
             [[camera]]\nname = \"front\"\nsource = \"test:\"\n\n\
             [mqtt]\nurl = \"mqtt://{BROKER_USER}:{BROKER_PASS}@127.0.0.1:{}\"\nhealth_interval_seconds = 2\n",
            broker.port
        ),
    );
    let daemon = Daemon::start(&cfg, &data, &[]);
    let ha = HomeAssistant::start(dir.path(), broker.port);

    // Every entity, with sensible states and units.
    let expected: Vec<(String, &str, Option<&str>)> = vec![
        (entity("sensor", "cpu"), "number", Some("%")),
        (entity("sensor", "memory"), "number", Some("MiB")),
        (entity("sensor", "temperature"), "any", Some("°C")),
        (entity("sensor", "disk_used"), "number", Some("%")),
        (entity("sensor", "disk_free"), "number", Some("GiB")),
        (entity("sensor", "written_per_day"), "number", Some("MiB")),
        (entity("update", "firmware"), "off", None),
        (entity("event", "alerts"), "any", None),
        (entity("binary_sensor", "alert_disk_warn"), "off", None),
        (
            entity("binary_sensor", "alert_recording_stopped"),
            "off",
            None,
        ),
        (entity("binary_sensor", "alert_upload_failed"), "off", None),
        (entity("sensor", "front_state"), "recording", None),
        (entity("binary_sensor", "front_recording"), "on", None),
        (entity("switch", "front_record"), "on", None),
        (entity("sensor", "front_fps"), "positive", Some("fps")),
        (
            entity("sensor", "front_bitrate"),
            "positive",
            Some("kbit/s"),
        ),
        (entity("sensor", "front_frame_loss"), "number", Some("%")),
        // The gap telemetry: seconds of the last 24 h without footage.
        (entity("sensor", "front_missing_24h"), "number", Some("s")),
        (entity("sensor", "front_last_segment"), "timestamp", None),
        (entity("button", "front_snapshot"), "any", None),
        (entity("button", "front_clip"), "any", None),
        (entity("event", "front_media"), "any", None),
        (entity("camera", "front_latest"), "idle", None),
    ];
    let judge = |states: &HashMap<String, Value>| -> Vec<String> {
        let mut wrong = Vec::new();
        for (id, want, unit) in &expected {
            let Some(s) = states.get(id) else {
                wrong.push(format!("{id} missing"));
                continue;
            };
            let state = s["state"].as_str().unwrap_or("");
            let ok = match *want {
                "any" => state != "unavailable",
                "number" => state.parse::<f64>().is_ok(),
                "positive" => state.parse::<f64>().is_ok_and(|v| v > 0.0),
                "timestamp" => chrono::DateTime::parse_from_rfc3339(state).is_ok(),
                exact => state == exact,
            };
            let unit_ok = unit.is_none_or(|u| s["attributes"]["unit_of_measurement"] == u);
            if !ok || !unit_ok {
                wrong.push(format!(
                    "{id} = {state:?} {:?}",
                    s["attributes"]["unit_of_measurement"]
                ));
            }
        }
        wrong
    };
    let mut last = Vec::new();
    let all_there = (0..120).any(|_| {
        last = judge(&ha.states());
        last.is_empty() || {
            std::thread::sleep(Duration::from_secs(1));
            false
        }
    });
    assert!(all_there, "entities not as expected after 120 s: {last:#?}");
    let states = ha.states();
    let update = &states[&entity("update", "firmware")]["attributes"];
    assert_eq!(update["installed_version"], camvault::VERSION);
    assert_eq!(
        states[&entity("binary_sensor", "alert_disk_warn")]["attributes"]["device_class"],
        "problem"
    );
    // The table for docs and the closing note: entity, state, unit.
    let mut table: Vec<_> = states
        .iter()
        .filter(|(id, _)| id.contains(DEV))
        .map(|(id, s)| {
            format!(
                "{id} | {} | {}",
                s["state"].as_str().unwrap_or(""),
                s["attributes"]["unit_of_measurement"]
                    .as_str()
                    .unwrap_or("")
            )
        })
        .collect();
    table.sort();
    eprintln!("Home Assistant shows:\n{}", table.join("\n"));

    // The camera entity has a picture without anyone pressing a button.
    let camera = entity("camera", "front_latest");
    let (code, jpeg) = ha.picture(&camera);
    assert_eq!(code, 200, "camera_proxy before any button");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);

    // The switch, through HA's REST API: off stops the recording, on starts it again.
    let switch = entity("switch", "front_record");
    let recording = entity("binary_sensor", "front_recording");
    ha.service("switch", "turn_off", &switch);
    wait_for("recording off in HA", Duration::from_secs(30), || {
        ha.state(&recording) == "off" && ha.state(&switch) == "off"
    });
    let s = status(&cfg);
    assert_eq!(
        (
            s["cameras"]["front"]["state"].as_str(),
            s["cameras"]["front"]["record"].as_bool()
        ),
        (Some("stopped"), Some(false))
    );
    ha.service("switch", "turn_on", &switch);
    wait_for("recording on in HA", Duration::from_secs(60), || {
        ha.state(&recording) == "on" && ha.state(&switch) == "on"
    });

    // The snapshot button: a snapshot.ready event in HA, and its picture at camera_proxy.
    let media = entity("event", "front_media");
    let before = ha.state(&media);
    ha.service("button", "press", &entity("button", "front_snapshot"));
    let mut attrs = Value::Null;
    wait_for("snapshot.ready in HA", Duration::from_secs(30), || {
        let s = ha.states().remove(&media).unwrap_or_default();
        attrs = s["attributes"].clone();
        s["state"].as_str().is_some_and(|t| t != before)
            && attrs["event_type"] == "snapshot.ready"
            && attrs["reason"] == "manual"
    });
    let taken = std::fs::read(data.join(attrs["path"].as_str().unwrap())).unwrap();
    wait_for(
        "the snapshot at camera_proxy",
        Duration::from_secs(20),
        || ha.picture(&camera) == (200, taken.clone()),
    );

    // kill -9: unavailable within the keep-alive (the will), back when camvault returns.
    daemon.signal(SIGKILL);
    let _ = daemon.wait(Duration::from_secs(10));
    wait_for("entities unavailable", Duration::from_secs(45), || {
        ha.state(&recording) == "unavailable" && ha.state(&switch) == "unavailable"
    });
    let daemon = Daemon::start(&cfg, &data, &[]);
    wait_for("entities back", Duration::from_secs(60), || {
        ha.state(&recording) == "on" && ha.state(&switch) == "on"
    });
    assert_eq!(ha.picture(&camera).0, 200, "the picture survives");

    // No discovery problem in HA's log.
    let log = ha.log();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| {
            (l.contains("WARNING") || l.contains("ERROR"))
                && (l.contains("components.mqtt") || l.contains("camvault"))
        })
        .collect();
    assert!(
        complaints.is_empty(),
        "HA complained:\n{}",
        complaints.join("\n")
    );

    // The registry: host sensors and maintenance buttons are diagnostic.
    let registry = ha.config.join(".storage/core.entity_registry");
    daemon.signal(SIGTERM);
    let _ = daemon.wait(Duration::from_secs(15));
    ha.stop();
    let reg: Value = serde_json::from_str(&std::fs::read_to_string(registry).unwrap()).unwrap();
    let registered = |id: &str| -> Value {
        reg["data"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entity_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in the registry"))
    };
    let category = |id: &str| registered(id)["entity_category"].clone();
    for o in [
        "cpu",
        "memory",
        "temperature",
        "disk_used",
        "alert_disk_warn",
    ] {
        let component = if o.starts_with("alert") {
            "binary_sensor"
        } else {
            "sensor"
        };
        assert_eq!(category(&entity(component, o)), "diagnostic", "{o}");
    }
    assert_eq!(category(&entity("sensor", "front_fps")), Value::Null);
    // The camera's state is an enum. (HA 2024.3's MQTT sensor drops `options`; HA 2024.4 and
    // later offer them in automations.)
    let state_entry = registered(&entity("sensor", "front_state"));
    assert_eq!(
        state_entry["original_device_class"], "enum",
        "{state_entry}"
    );
}
