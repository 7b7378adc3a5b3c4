//! The ground floor: supervision, the clock, the typed event bus and the data directory's
//! layout. Nothing here imports from the rest of the crate, so every module may build on it.

pub mod bus;
pub mod clock;
pub mod durable;
pub mod fds;
pub mod http;
pub mod inotify;
pub mod paths;
pub mod random;
pub mod supervise;
pub mod tasks;

pub use bus::Bus;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use paths::DataDir;
pub use supervise::{Backoff, HEALTHY_AFTER, supervise};
pub use tasks::Tasks;
