//! camvault: camera appliance firmware. See docs/ARCHITECTURE.md for how the parts fit.

pub mod base;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod discovery;
pub mod ftp;
#[cfg(test)]
mod fuzz;
pub mod health;
pub mod logging;
pub mod media;
pub mod mqtt;
pub mod ota;
pub mod recorder;
pub mod relay;
pub mod retention;
pub mod store;
pub mod upload;
pub mod web;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
