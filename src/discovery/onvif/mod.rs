//! ONVIF cameras: found by WS-Discovery (`wsd`, `probe`), asked over SOAP (`soap`,
//! `client`), read with a small bounded XML tree (`xml`).

pub mod client;
pub mod probe;
pub mod soap;
pub mod wsd;
pub mod xml;

pub use client::{OnvifCamera, Stream};
pub use wsd::Endpoint;
