//! The device's own entities: host health (diagnostic), the upload queue, the relay, the
//! firmware `update` entity, one `problem` binary sensor per alert code and the alerts event.

use serde_json::json;

use super::{Component, Discovery, Entity};
use crate::health::{AlertCode, RelayState};

const MIB: &str = "1048576";

/// (entities to publish, entities to remove because their feature is off).
pub(super) fn entities(d: &Discovery) -> (Vec<Entity>, Vec<Entity>) {
    let mut on = vec![
        d.measure(
            "cpu",
            "Host CPU",
            "{{ value_json.cpu_percent }}",
            Some("%"),
            None,
        )
        .icon("mdi:cpu-64-bit")
        .diagnostic(),
        d.measure(
            "memory",
            "Host memory used",
            &format!("{{{{ ((value_json.mem_used_bytes or 0) / {MIB}) | round(0) | int }}}}"),
            Some("MiB"),
            Some("data_size"),
        )
        .icon("mdi:memory")
        .diagnostic(),
        d.measure(
            "temperature",
            "Host temperature",
            // A board without a sensor reports null, which renders "None": HA shows unknown.
            "{{ value_json.temperature_c }}",
            Some("°C"),
            Some("temperature"),
        )
        .diagnostic(),
        d.measure(
            "disk_used",
            "Data disk used",
            "{{ value_json.disk.used_percent }}",
            Some("%"),
            None,
        )
        .icon("mdi:harddisk")
        .diagnostic(),
        d.measure(
            "disk_free",
            "Data disk free",
            "{{ (value_json.disk.free_bytes / 1073741824) | round(2) }}",
            Some("GiB"),
            Some("data_size"),
        )
        .diagnostic(),
        d.measure(
            "written_per_day",
            "Card writes per day",
            &format!(
                "{{{{ (value_json.storage.written_per_day_bytes / {MIB}) | round(0) | int }}}}"
            ),
            Some("MiB"),
            Some("data_size"),
        )
        .icon("mdi:sd")
        .diagnostic(),
        firmware(d),
        d.events("alerts", "Alerts", &["alert.raised", "alert.cleared"], "")
            .icon("mdi:alert"),
    ];
    for code in AlertCode::ALL {
        let c = code.as_str();
        on.push(
            d.binary(
                &format!("alert_{c}"),
                code.title(),
                &format!(
                    "{{{{ 'ON' if value_json.alerts | selectattr('code', 'eq', '{c}') | list | count > 0 else 'OFF' }}}}"
                ),
                "problem",
            )
            .diagnostic(),
        );
    }
    let uploads = vec![
        d.measure(
            "queue_pending",
            "Uploads pending",
            "{{ value_json.queue.pending }}",
            None,
            None,
        )
        .icon("mdi:cloud-upload"),
        d.measure(
            "queue_pending_size",
            "Upload backlog",
            &format!("{{{{ (value_json.queue.pending_bytes / {MIB}) | round(1) }}}}"),
            Some("MiB"),
            Some("data_size"),
        ),
        d.measure(
            "queue_oldest_age",
            "Oldest pending upload",
            "{{ value_json.queue.oldest_pending_age_s or 0 }}",
            Some("s"),
            Some("duration"),
        ),
        d.measure(
            "queue_failed",
            "Failed uploads",
            "{{ value_json.queue.failed }}",
            None,
            None,
        )
        .icon("mdi:cloud-alert"),
        d.button(
            "retry_uploads",
            "Retry failed uploads",
            "upload",
            json!({ "action": "retry-failed" }),
        )
        .diagnostic(),
    ];
    let states: Vec<&str> = RelayState::ALL.iter().map(|s| s.as_str()).collect();
    let relay = vec![
        d.choice(
            "relay_state",
            "Relay",
            "{{ value_json.relay.state }}",
            &states,
        )
        .icon("mdi:broadcast"),
    ];
    let mut off = Vec::new();
    for (wanted, group) in [(d.features.uploads, uploads), (d.features.relay, relay)] {
        if wanted {
            on.extend(group);
        } else {
            off.extend(group);
        }
    }
    (on, off)
}

/// The `update` entity: on the image it follows the `ota` topic (installed, latest, progress)
/// and its install button sends `cmd/ota {}`, which installs the announced release;
/// elsewhere it only shows the running version.
fn firmware(d: &Discovery) -> Entity {
    let config = if d.features.ota {
        json!({
            "state_topic": d.topics.ota(),
            "command_topic": d.topics.command("ota"),
            "payload_install": "{}",
            "device_class": "firmware",
            "title": "camvault",
            "entity_category": "config",
        })
    } else {
        json!({
            "state_topic": d.topics.state(),
            "value_template": "{{ {'installed_version': value_json.version, 'latest_version': value_json.version} | tojson }}",
            "device_class": "firmware",
            "title": "camvault",
            "entity_category": "config",
        })
    };
    Entity::new(Component::Update, "firmware", "Firmware", config)
}
