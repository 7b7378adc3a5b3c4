use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::*;
use crate::health::{AlertCode, CameraState, RelayState};

fn discovery(topics: &Topics, board: &Board, features: Features) -> Configs {
    Discovery {
        device_id: "cv-1",
        topics,
        board,
        features,
    }
    .configs(&["front".into()], &["old".into()])
}

#[test]
fn every_entity_has_what_home_assistant_requires() {
    let topics = Topics::new("camvault", "cv-1");
    let board = Board {
        model: Some("Raspberry Pi 4 Model B Rev 1.4".into()),
        mac: Some("dc:a6:32:01:02:03".into()),
    };
    let all = Features {
        uploads: true,
        relay: true,
        ota: true,
        http_page: Some(("http", 8080)),
    };
    let configs = discovery(&topics, &board, all);
    let mut ids = HashSet::new();
    let mut per_component: BTreeMap<String, usize> = BTreeMap::new();
    for (topic, payload) in &configs {
        let component = topic.split('/').nth(1).unwrap();
        if topic.contains("/old_") {
            assert!(
                payload.is_empty(),
                "a retired camera's entity is removed: {topic}"
            );
            continue;
        }
        *per_component.entry(component.to_string()).or_default() += 1;
        let v: Value = serde_json::from_slice(payload).unwrap();
        let id = v["unique_id"].as_str().unwrap();
        assert!(ids.insert(id.to_string()), "unique ids");
        assert_eq!(v["object_id"], id, "entity ids follow the unique id");
        assert!(v["name"].as_str().is_some_and(|n| !n.is_empty()), "{topic}");
        assert_eq!(v["availability_topic"], "camvault/cv-1/availability");
        let dev = &v["device"];
        assert_eq!(dev["identifiers"][0], "camvault_cv-1");
        assert_eq!(dev["serial_number"], "cv-1");
        assert_eq!(dev["hw_version"], "Raspberry Pi 4 Model B Rev 1.4");
        assert_eq!(dev["connections"][0][1], "dc:a6:32:01:02:03");
        assert_eq!(dev["configuration_url"], "http://camvault-cv-1.local:8080/");
        assert_eq!(v["origin"]["name"], "camvault");
        match component {
            "sensor" if topic.contains("last_segment") => {
                assert_eq!(v["state_topic"], "camvault/cv-1/camera/front/last_segment")
            }
            // With OTA the update entity follows the `ota` topic, whose keys are HA's own.
            "update" => assert!(
                v["state_topic"] == "camvault/cv-1/ota"
                    && v["command_topic"] == "camvault/cv-1/cmd/ota"
                    && v["payload_install"] == "{}",
                "{topic}"
            ),
            "sensor" | "binary_sensor" => assert!(
                v["state_topic"] == "camvault/cv-1/state" && v["value_template"].is_string(),
                "{topic}"
            ),
            "switch" => assert!(
                v["command_topic"].is_string() && v["state_topic"].is_string(),
                "{topic}"
            ),
            "button" => assert!(
                v["command_topic"].is_string() && v["payload_press"].is_string(),
                "{topic}"
            ),
            "camera" => assert_eq!(v["topic"], "camvault/cv-1/camera/front/image"),
            "event" => assert!(
                v["state_topic"] == "camvault/cv-1/event" && v["event_types"].is_array(),
                "{topic}"
            ),
            other => panic!("unexpected component {other}"),
        }
        if v["device_class"] == "enum" {
            assert!(v["options"].as_array().is_some_and(|o| !o.is_empty()));
            assert!(
                v.get("state_class").is_none(),
                "enum sensors take no state_class"
            );
        }
    }
    let count = |c: &str| per_component.get(c).copied().unwrap_or(0);
    assert_eq!(count("update"), 1);
    assert_eq!(count("camera"), 1);
    assert_eq!(count("switch"), 1);
    assert_eq!(count("event"), 2, "alerts, and the camera's media");
    assert_eq!(count("binary_sensor"), AlertCode::ALL.len() + 1);
    assert_eq!(count("button"), 3, "retry, snapshot, clip");
    assert_eq!(count("sensor"), 6 + 4 + 1 + 6, "host, queue, relay, camera");
}

#[test]
fn without_ota_the_update_entity_only_shows_the_running_version() {
    let topics = Topics::new("camvault", "cv-1");
    let configs = discovery(&topics, &Board::default(), Features::default());
    let (_, p) = configs
        .iter()
        .find(|(t, _)| t.starts_with("homeassistant/update/"))
        .unwrap();
    let v: Value = serde_json::from_slice(p).unwrap();
    assert_eq!(v["state_topic"], "camvault/cv-1/state");
    assert!(v.get("command_topic").is_none(), "nothing to install: {v}");
}

#[test]
fn host_sensors_are_diagnostic_and_memory_is_in_mib() {
    let topics = Topics::new("camvault", "cv-1");
    let configs = discovery(&topics, &Board::default(), Features::default());
    let find = |object: &str| -> Value {
        let (_, p) = configs
            .iter()
            .find(|(t, _)| t.ends_with(&format!("/cv-1/{object}/config")))
            .unwrap_or_else(|| panic!("{object}"));
        serde_json::from_slice(p).unwrap()
    };
    for o in [
        "cpu",
        "memory",
        "temperature",
        "disk_used",
        "alert_disk_warn",
    ] {
        assert_eq!(find(o)["entity_category"], "diagnostic", "{o}");
    }
    assert_eq!(find("cpu")["name"], "Host CPU");
    assert_eq!(find("memory")["unit_of_measurement"], "MiB");
    // No board facts: no empty fields either.
    assert!(find("cpu")["device"].get("connections").is_none());
    // Uploads and the relay are off: their entities are removed, not left stale.
    for o in ["queue_pending", "retry_uploads", "relay_state"] {
        let (_, p) = configs
            .iter()
            .find(|(t, _)| t.ends_with(&format!("/cv-1/{o}/config")))
            .unwrap();
        assert!(p.is_empty(), "{o}");
    }
}

#[test]
fn the_names_in_templates_are_the_wire_names() {
    for s in CameraState::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for s in RelayState::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for c in AlertCode::ALL {
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
    }
}
