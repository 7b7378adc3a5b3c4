//! The configuration file (`camvault.toml`): types, documented defaults, loading and validation.
//!
//! Loading is layered: embedded defaults, then the file, then `CAMVAULT_<SECTION>_<KEY>`
//! environment variables, then `*_file` secrets are read in. Every failure becomes one
//! [`ConfigError`] naming the file, the key and the reason; the CLI exits 2 on it.

mod error;
mod key_template;
mod load;
mod locate;
mod redact;
pub mod schedule;
mod secret;
mod types;
mod validate;

pub use error::{ConfigError, Origin};
pub use load::{DEFAULT_PATH, load_file, load_str, read_secret};
pub use redact::{redact_url, scrub, url_secrets};
pub use secret::{Secret, SensitiveUrl};
pub use types::*;
