//! MQTT: retained availability and state, events, commands with replies, Home Assistant
//! discovery. Protocol rules (topics, outbox, discovery payloads) are plain modules; the
//! network loop is `client.rs`. MQTT being absent or down never blocks anything else: the
//! loop only ever hands messages to rumqttc without waiting, and keeps what cannot go out in
//! a bounded outbox.

mod client;
pub mod discovery;
pub mod outbox;
pub mod topics;

pub use client::run;

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("mqtt.url: {0}")]
    Url(String),
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
