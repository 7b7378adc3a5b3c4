//! Types that keep secrets out of logs, status output and error text by construction:
//! their `Debug` and `Display` never show the secret, only `expose()` does.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::redact::redact_url;

/// A password, key or token. Serializes to the real value (the loader needs the round
/// trip); anything shown to people goes through [`super::Config::redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub const MASK: &'static str = "***";

    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", Self::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A URL that may carry a password (`rtsp://user:pass@…`, `mqtts://…`) or a stream key
/// (`rtmp://host/app/KEY`). Displays redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveUrl(String);

impl SensitiveUrl {
    pub fn new(value: impl Into<String>) -> Self {
        SensitiveUrl(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The scheme, lower-cased, or "" when there is none.
    pub fn scheme(&self) -> String {
        match self.0.split_once(':') {
            Some((s, _)) => s.to_ascii_lowercase(),
            None => String::new(),
        }
    }

    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SensitiveUrl({})", self.redacted())
    }
}

impl fmt::Display for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SensitiveUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SensitiveUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SensitiveUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_secret() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        let u = SensitiveUrl::new("rtsp://admin:hunter2@10.0.0.2/stream");
        assert!(!format!("{u:?} {u}").contains("hunter2"));
        assert_eq!(u.scheme(), "rtsp");
    }
}
