use std::fmt;
use std::path::PathBuf;

/// Where a bad value came from: a place in the file, or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// In the file; line and column (1-based) when they are known.
    File(Option<(usize, usize)>),
    Env(String),
}

/// One configuration problem. Displays as one line: `file:line:col: key: reason`.
///
/// The reason never quotes the offending value: it may be a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config file: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    #[error("{}{}: {}{reason}", file.display(), OriginSuffix(origin), KeyPrefix(key))]
    Invalid {
        file: PathBuf,
        key: String,
        origin: Origin,
        reason: String,
    },
}

impl ConfigError {
    /// The dotted key the error is about (`upload.part_size_mib`, `camera[1].name`).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

struct KeyPrefix<'a>(&'a str);

impl fmt::Display for KeyPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

struct OriginSuffix<'a>(&'a Origin);

impl fmt::Display for OriginSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Origin::File(Some((line, col))) => write!(f, ":{line}:{col}"),
            Origin::File(None) => Ok(()),
            Origin::Env(var) => write!(f, " (environment {var})"),
        }
    }
}
