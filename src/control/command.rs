//! The typed commands that the local control socket carries today and MQTT carries later
//! (`cmd/<name>` with a JSON payload). Parsing is strict: unknown argument names, wrong types
//! and out-of-range values are errors that change nothing; an unknown command name parses
//! to [`Command::Unknown`] so the caller can answer it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Record(RecordArgs),
    Snapshot(SnapshotArgs),
    Clip(ClipArgs),
    Status,
    Upload(ActionArgs<UploadAction>),
    Relay(ActionArgs<RelayAction>),
    Ota(OtaArgs),
    Reboot,
    Discover,
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordArgs {
    pub camera: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotArgs {
    pub camera: String,
    /// Why it was taken, carried by `snapshot.ready` (seed 004); "manual" when absent.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClipArgs {
    pub camera: String,
    /// RFC 3339 or relative (`-5m`); absent: now.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub pre_s: Option<u32>,
    #[serde(default)]
    pub post_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionArgs<A> {
    pub action: A,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UploadAction {
    Pause,
    Resume,
    RetryFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelayAction {
    Start,
    Stop,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtaArgs {
    /// All three, or none: then the last `ota/latest` announcement is installed (Home
    /// Assistant's install button sends `{}`).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// Accepted for older senders and ignored: a RAUC bundle carries its own signature,
    /// checked against the device's keyring.
    #[serde(default)]
    pub signature: Option<String>,
}

impl OtaArgs {
    /// The update these arguments offer (`None`: the last announcement), checked by the
    /// same rules as an `ota/latest` announcement.
    pub fn offer(&self) -> Result<Option<crate::ota::Offer>, String> {
        match (&self.url, &self.sha256, &self.version) {
            (None, None, None) => Ok(None),
            (Some(url), Some(sha256), Some(version)) => {
                let offer = crate::ota::Offer {
                    version: version.clone(),
                    url: url.clone(),
                    sha256: sha256.clone(),
                    release_url: None,
                };
                offer.validate().map_err(|e| e.to_string())?;
                Ok(Some(offer))
            }
            _ => Err("give `url`, `sha256` and `version` together, or none of them".to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// Longest clip window either side of the event, in seconds.
pub const MAX_CLIP_SIDE_S: u32 = 600;
/// A snapshot's `reason` is free text for automations, bounded like every other argument.
pub const MAX_REASON_LEN: usize = 64;
/// A clip without `pre_s` / `post_s`: 10 s before, 30 s after (seed 004).
pub const DEFAULT_PRE_S: u32 = 10;
pub const DEFAULT_POST_S: u32 = 30;

impl Command {
    /// The command's name as it appears in `cmd/<name>` and in socket requests.
    /// Every command's name: the CLI has a verb for each but `reboot` (`systemctl reboot` on
    /// the device itself); the CLI's `ota install` takes a file instead of a URL.
    pub const NAMES: [&'static str; 9] = [
        "record", "snapshot", "clip", "status", "upload", "relay", "ota", "reboot", "discover",
    ];

    pub fn name(&self) -> &str {
        match self {
            Command::Record(_) => "record",
            Command::Snapshot(_) => "snapshot",
            Command::Clip(_) => "clip",
            Command::Status => "status",
            Command::Upload(_) => "upload",
            Command::Relay(_) => "relay",
            Command::Ota(_) => "ota",
            Command::Reboot => "reboot",
            Command::Discover => "discover",
            Command::Unknown(name) => name,
        }
    }

    /// Builds a command from its name and JSON arguments (`null` means none).
    pub fn parse(name: &str, args: Value) -> Result<Command, String> {
        let args = match args {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => args,
            _ => return Err("arguments must be a JSON object".to_string()),
        };
        let cmd = match name {
            "record" => Command::Record(parse_args(args)?),
            "snapshot" => Command::Snapshot(parse_args(args)?),
            "clip" => Command::Clip(parse_args(args)?),
            "status" => no_args(args, Command::Status)?,
            "upload" => Command::Upload(parse_args(args)?),
            "relay" => Command::Relay(parse_args(args)?),
            "ota" => Command::Ota(parse_args(args)?),
            "reboot" => no_args(args, Command::Reboot)?,
            "discover" => no_args(args, Command::Discover)?,
            other => Command::Unknown(other.to_string()),
        };
        cmd.check()?;
        Ok(cmd)
    }

    fn check(&self) -> Result<(), String> {
        let camera = |c: &str| {
            let ok = !c.is_empty()
                && c.len() <= 32
                && c.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-'
                });
            if ok {
                Ok(())
            } else {
                Err("`camera` must match [a-z0-9_-]{1,32}".to_string())
            }
        };
        match self {
            Command::Record(a) => camera(&a.camera),
            Command::Snapshot(a) => {
                camera(&a.camera)?;
                match &a.reason {
                    Some(r)
                        if r.is_empty()
                            || r.len() > MAX_REASON_LEN
                            || r.chars().any(char::is_control) =>
                    {
                        Err(format!(
                            "`reason` must be 1 to {MAX_REASON_LEN} printable characters"
                        ))
                    }
                    _ => Ok(()),
                }
            }
            Command::Clip(a) => {
                camera(&a.camera)?;
                for (k, v) in [("pre_s", a.pre_s), ("post_s", a.post_s)] {
                    if v.is_some_and(|v| v > MAX_CLIP_SIDE_S) {
                        return Err(format!("`{k}` must be at most {MAX_CLIP_SIDE_S}"));
                    }
                }
                // Only the form is checked here; the dispatcher resolves it against its clock.
                if let Some(at) = &a.at {
                    crate::base::clock::parse_time(at, chrono::DateTime::UNIX_EPOCH)
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Command::Ota(a) => a.offer().map(|_| ()),
            _ => Ok(()),
        }
    }
}

fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, String> {
    serde_json::from_value(args).map_err(|e| format!("bad arguments: {e}"))
}

fn no_args(args: Value, cmd: Command) -> Result<Command, String> {
    parse_args::<NoArgs>(args).map(|_| cmd)
}

/// The answer to one request, on the socket and (later) on `cmd/<name>/reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default)]
    pub request_id: Value,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What kind of refusal, for callers that act on it (the CLI's exit code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The request is wrong (unknown command or camera, bad or out-of-range arguments): the
    /// CLI exits 2, as for bad usage.
    Usage,
    /// The feature is off in the config, or not there yet.
    Unavailable,
    /// It was right but failed (no footage, a store or ffmpeg error, busy, timed out).
    Failed,
}

impl Reply {
    pub fn ok(request_id: Value, result: Value) -> Reply {
        Reply {
            request_id,
            ok: true,
            result: Some(result),
            error: None,
            error_kind: None,
        }
    }

    /// A refusal of a request that is itself wrong.
    pub fn usage(request_id: Value, error: impl Into<String>) -> Reply {
        Reply {
            error_kind: Some(ErrorKind::Usage),
            ..Reply::err(request_id, error)
        }
    }

    pub fn refused(request_id: Value, error: impl Into<String>, kind: ErrorKind) -> Reply {
        Reply {
            error_kind: Some(kind),
            ..Reply::err(request_id, error)
        }
    }

    pub fn err(request_id: Value, error: impl Into<String>) -> Reply {
        Reply {
            request_id,
            ok: false,
            result: None,
            error: Some(error.into()),
            error_kind: Some(ErrorKind::Failed),
        }
    }
}

/// A socket request: `{"cmd": "<name>", "request_id": …, …arguments}`.
pub struct Request {
    pub request_id: Value,
    pub command: Result<Command, String>,
}

impl Request {
    pub fn decode(line: &[u8]) -> Request {
        let mut obj = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return Request::failed(Value::Null, "a request is a JSON object"),
            Err(e) => return Request::failed(Value::Null, format!("bad JSON: {e}")),
        };
        let request_id = obj.remove("request_id").unwrap_or(Value::Null);
        let command = match obj.remove("cmd") {
            Some(Value::String(name)) => Command::parse(&name, Value::Object(obj)),
            _ => Err("missing string field `cmd`".to_string()),
        };
        Request {
            request_id,
            command,
        }
    }

    /// An MQTT request: the name from the topic `cmd/<name>`, the arguments (and an optional
    /// `request_id`) in the payload; an empty payload means no arguments.
    pub fn decode_named(name: &str, payload: &[u8]) -> Request {
        let mut obj = if payload.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(payload) {
                Ok(Value::Object(o)) => o,
                Ok(_) => return Request::failed(Value::Null, "the payload must be a JSON object"),
                Err(e) => return Request::failed(Value::Null, format!("bad JSON: {e}")),
            }
        };
        let request_id = obj.remove("request_id").unwrap_or(Value::Null);
        Request {
            request_id,
            command: Command::parse(name, Value::Object(obj)),
        }
    }

    pub fn encode(name: &str, args: Value, request_id: Value) -> Vec<u8> {
        let mut obj = match args {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        obj.insert("cmd".into(), Value::String(name.to_string()));
        obj.insert("request_id".into(), request_id);
        let mut line = serde_json::to_vec(&Value::Object(obj)).unwrap_or_default();
        line.push(b'\n');
        line
    }

    fn failed(request_id: Value, error: impl Into<String>) -> Request {
        Request {
            request_id,
            command: Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_name_is_a_command() {
        for name in Command::NAMES {
            if let Ok(cmd) = Command::parse(name, Value::Null) {
                assert_eq!(cmd.name(), name);
                assert!(!matches!(cmd, Command::Unknown(_)), "{name}");
            }
        }
        assert!(matches!(
            Command::parse("selfdestruct", Value::Null),
            Ok(Command::Unknown(_))
        ));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_documented_command() {
        let ok = [
            ("record", json!({"camera": "front", "enabled": false})),
            ("snapshot", json!({"camera": "front"})),
            (
                "clip",
                json!({"camera": "front", "at": "-5m", "pre_s": 10, "post_s": 30}),
            ),
            ("status", json!({})),
            ("status", Value::Null),
            ("upload", json!({"action": "retry-failed"})),
            ("relay", json!({"action": "stop"})),
            (
                "ota",
                json!({"url": "https://x/b", "sha256": "a".repeat(64), "signature": "s", "version": "1.2"}),
            ),
            ("ota", json!({})),
            ("reboot", json!({})),
            ("discover", json!({})),
        ];
        for (name, args) in ok {
            let cmd = Command::parse(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(cmd.name(), name);
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let bad = [
            ("record", json!({"camera": "front"})),
            ("record", json!({"camera": "Front!", "enabled": true})),
            ("snapshot", json!({"camera": "front", "extra": 1})),
            ("clip", json!({"camera": "front", "pre_s": 100000})),
            ("clip", json!({"camera": "front", "at": "yesterday"})),
            ("upload", json!({"action": "explode"})),
            ("status", json!({"verbose": true})),
            ("status", json!([1, 2])),
            (
                "ota",
                json!({"url": "ftp://x", "sha256": "00", "signature": "s", "version": "1"}),
            ),
            ("ota", json!({"url": "https://x/b"})),
        ];
        for (name, args) in bad {
            assert!(
                Command::parse(name, args.clone()).is_err(),
                "{name} {args} was accepted"
            );
        }
    }

    #[test]
    fn unknown_names_are_kept() {
        assert_eq!(
            Command::parse("selfdestruct", json!({})).unwrap(),
            Command::Unknown("selfdestruct".into())
        );
    }

    #[test]
    fn requests_round_trip() {
        let line = Request::encode("record", json!({"camera": "a", "enabled": true}), json!(7));
        let req = Request::decode(&line);
        assert_eq!(req.request_id, json!(7));
        assert_eq!(
            req.command.unwrap(),
            Command::Record(RecordArgs {
                camera: "a".into(),
                enabled: true
            })
        );
        assert!(Request::decode(b"{not json").command.is_err());
        assert!(Request::decode(b"[1]").command.is_err());
        assert!(Request::decode(br#"{"request_id": 1}"#).command.is_err());
    }
}
