//! One camera's entities: what it does (state, recording, figures, last segment), what it
//! should do (the record switch), what it can be asked (snapshot, clip), its picture, and
//! its media events.

use serde_json::json;

use super::{Component, Discovery, Entity};
use crate::health::CameraState;

pub(super) fn entities(d: &Discovery, cam: &str) -> Vec<Entity> {
    // Camera names are [a-z0-9_-]: safe inside a quoted Jinja string.
    let me = format!("value_json.cameras['{cam}']");
    let recording = format!("{{{{ 'ON' if {me}.state == 'recording' else 'OFF' }}}}");
    let states: Vec<&str> = CameraState::ALL.iter().map(|s| s.as_str()).collect();
    let record = |on: bool| json!({ "camera": cam, "enabled": on }).to_string();
    // Its own retained topic, published once there is a segment: a timestamp sensor on the
    // state topic would see null before the first one, which HA logs as invalid.
    let last_segment = Entity::new(
        Component::Sensor,
        format!("{cam}_last_segment"),
        &format!("{cam} last segment"),
        json!({
            "state_topic": d.topics.last_segment(cam),
            "device_class": "timestamp",
            "icon": "mdi:filmstrip-box-multiple",
        }),
    );
    vec![
        d.choice(
            &format!("{cam}_state"),
            &format!("{cam} state"),
            &format!("{{{{ {me}.state }}}}"),
            &states,
        )
        .icon("mdi:cctv"),
        d.binary(
            &format!("{cam}_recording"),
            &format!("{cam} recording"),
            &recording,
            "running",
        ),
        Entity::new(
            Component::Switch,
            format!("{cam}_record"),
            &format!("{cam} record"),
            json!({
                "command_topic": d.topics.command("record"),
                "payload_on": record(true),
                "payload_off": record(false),
                "state_topic": d.topics.state(),
                // The switch is what the camera should do; `recording` says what it does.
                "value_template": format!("{{{{ 'ON' if {me}.record else 'OFF' }}}}"),
                "state_on": "ON",
                "state_off": "OFF",
                "icon": "mdi:record-rec",
            }),
        ),
        d.measure(
            &format!("{cam}_fps"),
            &format!("{cam} frame rate"),
            &format!("{{{{ {me}.fps }}}}"),
            Some("fps"),
            None,
        )
        .icon("mdi:filmstrip"),
        d.measure(
            &format!("{cam}_bitrate"),
            &format!("{cam} bitrate"),
            &format!("{{{{ {me}.bitrate_kbps | round(0) | int }}}}"),
            Some("kbit/s"),
            Some("data_rate"),
        ),
        d.measure(
            &format!("{cam}_frame_loss"),
            &format!("{cam} frame loss"),
            &format!("{{{{ {me}.frame_loss_percent }}}}"),
            Some("%"),
            None,
        )
        .icon("mdi:image-broken-variant"),
        // The footage a user would find missing if they looked now: the gap telemetry.
        d.measure(
            &format!("{cam}_missing_24h"),
            &format!("{cam} footage missing (24 h)"),
            &format!("{{{{ {me}.missing_seconds_24h }}}}"),
            Some("s"),
            Some("duration"),
        )
        .icon("mdi:timeline-alert"),
        last_segment,
        Entity::new(
            Component::Camera,
            format!("{cam}_latest"),
            cam,
            json!({ "topic": d.topics.image(cam) }),
        ),
        d.button(
            &format!("{cam}_snapshot"),
            &format!("{cam} snapshot"),
            "snapshot",
            json!({ "camera": cam }),
        )
        .icon("mdi:camera"),
        d.button(
            &format!("{cam}_clip"),
            &format!("{cam} clip"),
            "clip",
            json!({ "camera": cam }),
        )
        .icon("mdi:filmstrip-box"),
        d.events(
            &format!("{cam}_media"),
            &format!("{cam} media"),
            &["snapshot.ready", "clip.ready"],
            &format!(" and value_json.camera == '{cam}'"),
        )
        .icon("mdi:image-multiple"),
    ]
}
