//! Home Assistant MQTT discovery: one device, its sensors, and per camera a recording
//! binary_sensor, a recording switch and a snapshot button, plus a retry-uploads button. Every
//! entity reads the retained `state` topic and follows the `availability` topic. Configs go to
//! `homeassistant/<component>/<device_id>/<object_id>/config`, retained; an empty retained
//! payload removes an entity (done for cameras that left the config).

use serde_json::{Value, json};

use super::topics::Topics;

pub const PREFIX: &str = "homeassistant";

pub struct Discovery<'a> {
    pub device_id: &'a str,
    pub topics: &'a Topics,
}

/// (topic, payload) pairs to publish retained.
pub type Configs = Vec<(String, Vec<u8>)>;

impl Discovery<'_> {
    fn device(&self) -> Value {
        json!({
            "identifiers": [format!("camvault_{}", self.device_id)],
            "name": format!("camvault {}", self.device_id),
            "manufacturer": "camvault",
            "model": "camvault camera appliance",
            "sw_version": crate::VERSION,
        })
    }

    fn topic(&self, component: &str, object: &str) -> String {
        format!("{PREFIX}/{component}/{}/{object}/config", self.device_id)
    }

    fn entity(&self, object: &str, name: &str, extra: Value) -> Value {
        let mut v = json!({
            "name": name,
            "unique_id": format!("camvault_{}_{object}", self.device_id),
            "availability_topic": self.topics.availability(),
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": self.device(),
        });
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        v
    }

    fn sensor(
        &self,
        object: &str,
        name: &str,
        template: &str,
        unit: Option<&str>,
        class: Option<&str>,
    ) -> (String, Value) {
        let mut extra = json!({
            "state_topic": self.topics.state(),
            "value_template": template,
            "state_class": "measurement",
        });
        if let Some(u) = unit {
            extra["unit_of_measurement"] = json!(u);
        }
        if let Some(c) = class {
            extra["device_class"] = json!(c);
        }
        (
            self.topic("sensor", object),
            self.entity(object, name, extra),
        )
    }

    fn camera_entities(&self, cam: &str) -> Vec<(String, Value)> {
        let recording = format!(
            "{{{{ 'ON' if value_json.cameras['{cam}'].state == 'recording' else 'OFF' }}}}"
        );
        let record = |on: bool| json!({ "camera": cam, "enabled": on }).to_string();
        vec![
            (
                self.topic("binary_sensor", &format!("{cam}_recording")),
                self.entity(
                    &format!("{cam}_recording"),
                    &format!("{cam} recording"),
                    json!({
                        "state_topic": self.topics.state(),
                        "value_template": recording,
                        "payload_on": "ON",
                        "payload_off": "OFF",
                        "device_class": "running",
                    }),
                ),
            ),
            (
                self.topic("switch", &format!("{cam}_record")),
                self.entity(
                    &format!("{cam}_record"),
                    &format!("{cam} record"),
                    json!({
                        "command_topic": self.topics.command("record"),
                        "payload_on": record(true),
                        "payload_off": record(false),
                        "state_topic": self.topics.state(),
                        "value_template": recording,
                        "state_on": "ON",
                        "state_off": "OFF",
                    }),
                ),
            ),
            (
                self.topic("camera", &format!("{cam}_latest")),
                self.entity(
                    &format!("{cam}_latest"),
                    &format!("{cam} latest snapshot"),
                    json!({ "topic": self.topics.image(cam) }),
                ),
            ),
            (
                self.topic("button", &format!("{cam}_snapshot")),
                self.entity(
                    &format!("{cam}_snapshot"),
                    &format!("{cam} snapshot"),
                    json!({
                        "command_topic": self.topics.command("snapshot"),
                        "payload_press": json!({ "camera": cam }).to_string(),
                    }),
                ),
            ),
        ]
    }

    /// Every config for the configured cameras, and removals for `retired` ones.
    pub fn configs(&self, cameras: &[String], retired: &[String]) -> Configs {
        let mut out = vec![
            self.sensor(
                "cpu",
                "CPU",
                "{{ value_json.cpu_percent }}",
                Some("%"),
                None,
            ),
            self.sensor(
                "memory",
                "Memory used",
                "{{ value_json.mem_used_bytes }}",
                Some("B"),
                Some("data_size"),
            ),
            self.sensor(
                "temperature",
                "Temperature",
                "{{ value_json.temperature_c }}",
                Some("°C"),
                Some("temperature"),
            ),
            self.sensor(
                "disk_used",
                "Disk used",
                "{{ value_json.disk.used_percent }}",
                Some("%"),
                None,
            ),
            self.sensor(
                "queue_pending",
                "Uploads pending",
                "{{ value_json.queue.pending }}",
                None,
                None,
            ),
            self.sensor(
                "queue_oldest_age",
                "Oldest pending upload",
                "{{ value_json.queue.oldest_pending_age_s or 0 }}",
                Some("s"),
                Some("duration"),
            ),
            (
                self.topic("button", "retry_uploads"),
                self.entity(
                    "retry_uploads",
                    "Retry failed uploads",
                    json!({
                        "command_topic": self.topics.command("upload"),
                        "payload_press": json!({ "action": "retry-failed" }).to_string(),
                    }),
                ),
            ),
        ];
        for cam in cameras {
            out.extend(self.camera_entities(cam));
        }
        let mut configs: Configs = out
            .into_iter()
            .map(|(t, v)| (t, v.to_string().into_bytes()))
            .collect();
        for cam in retired {
            configs.extend(
                self.camera_entities(cam)
                    .into_iter()
                    .map(|(t, _)| (t, Vec::new())),
            );
        }
        configs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_has_what_home_assistant_requires() {
        let topics = Topics::new("camvault", "cv-1");
        let d = Discovery {
            device_id: "cv-1",
            topics: &topics,
        };
        let configs = d.configs(&["front".into()], &["old".into()]);
        let mut ids = std::collections::HashSet::new();
        for (topic, payload) in &configs {
            let component = topic.split('/').nth(1).unwrap();
            if topic.contains("/old_") {
                assert!(
                    payload.is_empty(),
                    "a retired camera's entity is removed: {topic}"
                );
                continue;
            }
            let v: Value = serde_json::from_slice(payload).unwrap();
            assert!(
                ids.insert(v["unique_id"].as_str().unwrap().to_string()),
                "unique ids"
            );
            assert_eq!(v["availability_topic"], "camvault/cv-1/availability");
            assert_eq!(v["device"]["identifiers"][0], "camvault_cv-1");
            match component {
                "sensor" | "binary_sensor" => assert!(
                    v["state_topic"].is_string() && v["value_template"].is_string(),
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
                "camera" => assert!(
                    v["topic"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("camvault/cv-1/camera/")),
                    "{topic}"
                ),
                other => panic!("unexpected component {other}"),
            }
        }
        assert_eq!(configs.len(), 7 + 4 + 4);
    }
}
