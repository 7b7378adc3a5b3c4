//! Device events (`segment.closed`, `alert.raised`, …): one broadcast bus that MQTT's `event`
//! topic and anyone else can follow. Slow subscribers miss events rather than slow producers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

impl Event {
    /// `data` must be a JSON object; its fields sit beside `type` and `at`.
    pub fn new(kind: &'static str, data: Value) -> Event {
        let data = match data {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Event {
            kind,
            at: Utc::now(),
            data,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(512).0,
        }
    }
}

impl EventBus {
    pub fn emit(&self, event: Event) {
        tracing::debug!(event = event.kind, "event");
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
