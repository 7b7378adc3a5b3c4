//! Home Assistant MQTT discovery: one device and its entities, each a retained config under
//! `homeassistant/<component>/<device_id>/<object>/config`; an empty retained payload
//! removes one (cameras that left the config, features switched off). Every entity reads the
//! retained `state` (or `event`) topic and follows `availability`. The entity list is in
//! docs/MQTT.md; `host.rs` and `camera.rs` build it. Plain logic: no I/O here.

mod camera;
mod host;

use serde_json::{Value, json};

use super::topics::Topics;
use crate::health::board::Board;

pub const PREFIX: &str = "homeassistant";

/// The entity platforms camvault uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Sensor,
    BinarySensor,
    Switch,
    Button,
    Camera,
    Update,
    Event,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Sensor => "sensor",
            Component::BinarySensor => "binary_sensor",
            Component::Switch => "switch",
            Component::Button => "button",
            Component::Camera => "camera",
            Component::Update => "update",
            Component::Event => "event",
        }
    }
}

/// One entity: its platform, its object id (unique within the device) and the config keys
/// particular to it. The keys every entity shares are added by [`Discovery::configs`].
#[derive(Debug, Clone)]
pub struct Entity {
    pub component: Component,
    pub object: String,
    pub config: Value,
}

impl Entity {
    fn new(component: Component, object: impl Into<String>, name: &str, config: Value) -> Self {
        let mut config = config;
        config["name"] = json!(name);
        Entity {
            component,
            object: object.into(),
            config,
        }
    }

    fn diagnostic(mut self) -> Self {
        self.config["entity_category"] = json!("diagnostic");
        self
    }

    fn icon(mut self, icon: &str) -> Self {
        self.config["icon"] = json!(icon);
        self
    }
}

/// What the device offers, so entities of features switched off are removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    pub uploads: bool,
    pub relay: bool,
    /// Takes OTA updates (the image): the `update` entity reads the `ota` topic and installs.
    pub ota: bool,
    /// The status page's scheme and port (`[http]`): the device's `configuration_url`.
    pub http_page: Option<(&'static str, u16)>,
}

pub struct Discovery<'a> {
    pub device_id: &'a str,
    pub topics: &'a Topics,
    pub board: &'a Board,
    pub features: Features,
}

/// (topic, payload) pairs to publish retained; an empty payload removes the entity.
pub type Configs = Vec<(String, Vec<u8>)>;

impl Discovery<'_> {
    fn device(&self) -> Value {
        let mut d = json!({
            "identifiers": [format!("camvault_{}", self.device_id)],
            "name": format!("camvault {}", self.device_id),
            "manufacturer": "camvault",
            "model": "camvault camera appliance",
            "sw_version": crate::VERSION,
            "serial_number": self.device_id,
        });
        if let Some(m) = &self.board.model {
            d["hw_version"] = json!(m);
        }
        if let Some(mac) = &self.board.mac {
            d["connections"] = json!([["mac", mac]]);
        }
        // The mDNS name camvault announces, so the link works whatever the address.
        if let Some((scheme, port)) = self.features.http_page {
            d["configuration_url"] = json!(format!(
                "{scheme}://camvault-{}.local:{port}/",
                self.device_id
            ));
        }
        d
    }

    fn topic(&self, e: &Entity) -> String {
        format!(
            "{PREFIX}/{}/{}/{}/config",
            e.component.as_str(),
            self.device_id,
            e.object
        )
    }

    fn payload(&self, e: &Entity) -> Value {
        let mut v = e.config.clone();
        let id = format!("camvault_{}_{}", self.device_id, e.object);
        let common = json!({
            "unique_id": id,
            // The entity id HA derives from it: camvault_<device>_<object>, stable and
            // predictable for automations.
            "object_id": id,
            "availability_topic": self.topics.availability(),
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": self.device(),
            "origin": { "name": "camvault", "sw_version": crate::VERSION },
        });
        if let (Some(m), Value::Object(c)) = (v.as_object_mut(), common) {
            m.extend(c);
        }
        v
    }

    /// A sensor on the `state` topic.
    fn sensor(&self, object: &str, name: &str, template: &str) -> Entity {
        Entity::new(
            Component::Sensor,
            object,
            name,
            json!({
                "state_topic": self.topics.state(),
                "value_template": template,
            }),
        )
    }

    /// A numeric sensor with a unit and (optionally) a device class.
    fn measure(
        &self,
        object: &str,
        name: &str,
        template: &str,
        unit: Option<&str>,
        class: Option<&str>,
    ) -> Entity {
        let mut e = self.sensor(object, name, template);
        e.config["state_class"] = json!("measurement");
        if let Some(u) = unit {
            e.config["unit_of_measurement"] = json!(u);
        }
        if let Some(c) = class {
            e.config["device_class"] = json!(c);
        }
        e
    }

    /// An enum sensor: HA shows the options and offers them in automations.
    fn choice(&self, object: &str, name: &str, template: &str, options: &[&str]) -> Entity {
        let mut e = self.sensor(object, name, template);
        e.config["device_class"] = json!("enum");
        e.config["options"] = json!(options);
        e
    }

    fn binary(&self, object: &str, name: &str, template: &str, class: &str) -> Entity {
        Entity::new(
            Component::BinarySensor,
            object,
            name,
            json!({
                "state_topic": self.topics.state(),
                "value_template": template,
                "payload_on": "ON",
                "payload_off": "OFF",
                "device_class": class,
            }),
        )
    }

    fn button(&self, object: &str, name: &str, command: &str, payload: Value) -> Entity {
        Entity::new(
            Component::Button,
            object,
            name,
            json!({
                "command_topic": self.topics.command(command),
                "payload_press": payload.to_string(),
            }),
        )
    }

    /// An event entity fed by the `event` topic: `types` are the event names it fires, and
    /// `only` (a Jinja condition on `value_json`) narrows them, e.g. to one camera. Other
    /// events render empty, which HA ignores quietly.
    fn events(&self, object: &str, name: &str, types: &[&str], only: &str) -> Entity {
        let list = types
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        Entity::new(
            Component::Event,
            object,
            name,
            json!({
                "state_topic": self.topics.event(),
                "event_types": types,
                "value_template": format!(
                    "{{% if value_json.type in [{list}]{only} %}}{{{{ dict(value_json, event_type=value_json.type) | tojson }}}}{{% endif %}}"
                ),
            }),
        )
    }

    /// Every config for the configured cameras, and removals for `retired` ones and for
    /// features switched off.
    pub fn configs(&self, cameras: &[String], retired: &[String]) -> Configs {
        let (wanted, unwanted) = host::entities(self);
        let live = wanted
            .into_iter()
            .chain(cameras.iter().flat_map(|c| camera::entities(self, c)));
        let mut out: Configs = live
            .map(|e| (self.topic(&e), self.payload(&e).to_string().into_bytes()))
            .collect();
        let removed = unwanted
            .into_iter()
            .chain(retired.iter().flat_map(|c| camera::entities(self, c)));
        out.extend(removed.map(|e| (self.topic(&e), Vec::new())));
        out
    }
}

#[cfg(test)]
mod tests;
