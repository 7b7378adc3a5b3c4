//! Layering: defaults ← file ← `CAMVAULT_<SECTION>_<KEY>` ← `*_file` secrets, then validation.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::locate::{key_at, line_col, locate};
use super::types::ENV_SECTIONS;
use super::validate::validate;
use super::{Config, ConfigError, Origin, Secret, SensitiveUrl};

pub const DEFAULT_PATH: &str = "/etc/camvault/camvault.toml";
const ENV_PREFIX: &str = "CAMVAULT_";
/// Names under the prefix that are not config keys.
const ENV_RESERVED: &[&str] = &["CAMVAULT_CONFIG"];

/// Reads and validates the config file, with overrides from this process's environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let read_err = |reason: String| ConfigError::Read {
        file: path.to_path_buf(),
        reason,
    };
    let meta = fs::metadata(path).map_err(|e| read_err(e.to_string()))?;
    // A FIFO or a device would block the read or never end.
    if !meta.is_file() {
        return Err(read_err("not a regular file".into()));
    }
    let text = fs::read_to_string(path).map_err(|e| read_err(e.to_string()))?;
    load_str(&text, path, &environment(path)?)
}

/// This process's environment, without panicking on bytes that are not UTF-8: such a value
/// under our prefix is an error naming the variable (never its value); elsewhere it is not
/// ours to read.
fn environment(file: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        match v.into_string() {
            Ok(v) => env.push((k.to_string(), v)),
            Err(_) if k.starts_with(ENV_PREFIX) => {
                return Err(ConfigError::Invalid {
                    file: file.to_path_buf(),
                    key: k.to_string(),
                    origin: Origin::Env(k.to_string()),
                    reason: "the value is not valid UTF-8".into(),
                });
            }
            Err(_) => {}
        }
    }
    Ok(env)
}

/// Parses `text` (the contents of `file`), applies the `CAMVAULT_*` entries of `env`, reads
/// secret files and validates.
pub fn load_str(text: &str, file: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut loader = Loader {
        text,
        file: file.to_path_buf(),
        from_env: HashMap::new(),
    };
    let mut cfg = loader.parse()?;
    loader.apply_env(&mut cfg, env)?;
    loader.read_secrets(&mut cfg)?;
    validate(&cfg).map_err(|(key, reason)| loader.error(&key, reason))?;
    // The plan is resolved once: what check-config prints is what retention uses.
    cfg.retention.recordings_days_set = Some(cfg.retention.recordings_days());
    for cam in &mut cfg.cameras {
        // Validation refused every source whose kind is unknown.
        if let Some(kind) = super::SourceKind::of(&cam.source) {
            cam.kind = kind;
        }
    }
    Ok(cfg)
}

struct Loader<'a> {
    text: &'a str,
    file: PathBuf,
    /// Keys set from the environment, and the variable that set them.
    from_env: HashMap<String, String>,
}

impl Loader<'_> {
    fn error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        let origin = match self.from_env.get(key) {
            Some(var) => Origin::Env(var.clone()),
            None => Origin::File(locate(self.text, key)),
        };
        ConfigError::Invalid {
            file: self.file.clone(),
            key: key.to_string(),
            origin,
            reason: reason.into(),
        }
    }

    fn parse(&self) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::new(self.text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let (mut key, reason) = describe(&e.path().to_string(), e.inner().message());
            let span = e.inner().span();
            if key.is_empty()
                && let Some(k) = span.as_ref().and_then(|s| key_at(self.text, s.start))
            {
                key = k;
            }
            let origin = Origin::File(span.map(|s| line_col(self.text, s.start)));
            ConfigError::Invalid {
                file: self.file.clone(),
                key,
                origin,
                reason,
            }
        })
    }

    fn apply_env(&mut self, cfg: &mut Config, env: &[(String, String)]) -> Result<(), ConfigError> {
        let mut vars: Vec<&(String, String)> = env
            .iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_RESERVED.contains(&k.as_str()))
            .collect();
        vars.sort();
        for (var, raw) in vars {
            let env_error = |key: String, reason: String| ConfigError::Invalid {
                file: self.file.clone(),
                key,
                origin: Origin::Env(var.clone()),
                reason,
            };
            let rest = var[ENV_PREFIX.len()..].to_ascii_lowercase();
            let (section, key) = rest.split_once('_').unwrap_or((&rest, ""));
            if !ENV_SECTIONS.contains(&section) || key.is_empty() {
                return Err(env_error(
                    rest.clone(),
                    format!(
                        "not a config key: use CAMVAULT_<SECTION>_<KEY> with a section among {}",
                        ENV_SECTIONS.join(", ")
                    ),
                ));
            }
            let dotted = format!("{section}.{key}");
            let mut tree = toml::Value::try_from(&*cfg)
                .map_err(|e| env_error(dotted.clone(), e.to_string()))?;
            let table = tree
                .get_mut(section)
                .and_then(toml::Value::as_table_mut)
                .ok_or_else(|| env_error(dotted.clone(), "no such section".into()))?;
            // A secret set one way replaces the other way of setting it.
            match key.strip_suffix("_file") {
                Some(plain) => table.remove(plain),
                None => table.remove(&format!("{key}_file")),
            };
            let value =
                coerce(table.get(key), raw).map_err(|reason| env_error(dotted.clone(), reason))?;
            table.insert(key.to_string(), value);
            *cfg = serde_path_to_error::deserialize(tree).map_err(|e| {
                let (k, reason) = describe(&e.path().to_string(), e.inner().message());
                // Only this variable changed; name it whatever the path says.
                env_error(
                    if k == "." || k.is_empty() {
                        dotted.clone()
                    } else {
                        k
                    },
                    reason,
                )
            })?;
            self.from_env.insert(dotted, var.clone());
        }
        Ok(())
    }

    fn read_secrets(&self, cfg: &mut Config) -> Result<(), ConfigError> {
        let up = &mut cfg.upload;
        self.secret_pair(
            "upload.secret_access_key",
            &mut up.secret_access_key,
            &up.secret_access_key_file,
        )?;
        self.secret_pair(
            "upload.session_token",
            &mut up.session_token,
            &up.session_token_file,
        )?;
        let mq = &mut cfg.mqtt;
        self.secret_pair("mqtt.password", &mut mq.password, &mq.password_file)?;
        if let Some(path) = &mq.client_key_file {
            check_private(path).map_err(|r| self.error("mqtt.client_key_file", r))?;
        }
        let mut rtmp: Option<Secret> = cfg.relay.rtmp_url.as_ref().map(|u| Secret::new(u.expose()));
        self.secret_pair("relay.rtmp_url", &mut rtmp, &cfg.relay.rtmp_url_file)?;
        cfg.relay.rtmp_url = rtmp.map(|s| SensitiveUrl::new(s.expose()));
        for (i, user) in cfg.ftp.users.iter_mut().enumerate() {
            let key = format!("ftp.users[{i}].password");
            self.secret_pair(&key, &mut user.password, &user.password_file)?;
        }
        let d = &mut cfg.discovery;
        self.secret_pair(
            "discovery.onvif_password",
            &mut d.onvif_password,
            &d.onvif_password_file,
        )?;
        for (i, cam) in cfg.cameras.iter_mut().enumerate() {
            if let Some(path) = &cam.password_file {
                let key = format!("camera[{i}].password_file");
                let password = read_secret_file(path).map_err(|r| self.error(&key, r))?;
                let source =
                    with_password(&cam.source, &password).map_err(|r| self.error(&key, r))?;
                cam.source = source;
            }
        }
        Ok(())
    }

    /// Fills `value` from `file` when the file form is used; both at once is an error.
    fn secret_pair(
        &self,
        key: &str,
        value: &mut Option<Secret>,
        file: &Option<PathBuf>,
    ) -> Result<(), ConfigError> {
        let Some(path) = file else { return Ok(()) };
        let file_key = format!("{key}_file");
        if value.is_some() {
            return Err(self.error(
                &file_key,
                format!("give either `{key}` or `{file_key}`, not both"),
            ));
        }
        let secret = read_secret_file(path).map_err(|r| self.error(&file_key, r))?;
        *value = Some(Secret::new(secret));
        Ok(())
    }
}

/// Turns a serde path and message into a key and a reason; an unknown field is reported
/// as the key it is, not as its parent.
fn describe(path: &str, message: &str) -> (String, String) {
    let message = message.trim().to_string();
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        let key = if path == "." || path.is_empty() {
            field.to_string()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        let reason = "unknown key (see docs/CONFIGURATION.md for the keys)";
        return (key, reason.to_string());
    }
    let key = if path == "." {
        String::new()
    } else {
        path.to_string()
    };
    (key, without_value(&message))
}

/// serde quotes the offending value ("invalid type: string \"x\", expected u32"); the value
/// may be a secret in the wrong place, so keep only what kind of value it was.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let kind = found.split_whitespace().next().unwrap_or("value");
            return format!("{prefix}expected {expected}, found a {kind}");
        }
    }
    message.to_string()
}

/// An environment string as the TOML type the key already has.
fn coerce(current: Option<&toml::Value>, raw: &str) -> Result<toml::Value, String> {
    use toml::Value as V;
    match current {
        Some(V::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(V::Integer)
            .map_err(|_| "expected an integer".to_string()),
        Some(V::Boolean(_)) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(V::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(V::Boolean(false)),
            _ => Err("expected true or false".to_string()),
        },
        Some(V::Float(_)) => raw
            .trim()
            .parse::<f64>()
            .map(V::Float)
            .map_err(|_| "expected a number".to_string()),
        Some(V::Array(_) | V::Table(_)) => {
            Err("lists and tables cannot be set from the environment".to_string())
        }
        // Strings, and optional keys that are unset (all of them strings or paths).
        Some(V::String(_) | V::Datetime(_)) | None => Ok(V::String(raw.to_string())),
    }
}

/// Refuses a secret file that group or others can read: the secret would already be out.
fn check_private(path: &Path) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A FIFO or a device would block the read or never end.
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is readable by group or others (mode {mode:04o}); chmod 600 it",
            path.display()
        ));
    }
    Ok(())
}

/// A secret file read again (SIGHUP), with the same rules as at start; errors name `key`.
pub fn read_secret(key: &str, path: &Path) -> Result<String, ConfigError> {
    read_secret_file(path).map_err(|reason| ConfigError::Invalid {
        file: path.to_path_buf(),
        key: key.to_string(),
        origin: Origin::File(None),
        reason,
    })
}

fn read_secret_file(path: &Path) -> Result<String, String> {
    check_private(path)?;
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(secret.to_string())
}

fn with_password(source: &SensitiveUrl, password: &str) -> Result<SensitiveUrl, String> {
    let mut url = url::Url::parse(source.expose())
        .map_err(|_| "`source` must be an rtsp:// URL to take a password_file".to_string())?;
    if !matches!(url.scheme(), "rtsp" | "rtsps") {
        return Err("password_file only applies to rtsp:// and rtsps:// sources".into());
    }
    if url.username().is_empty() {
        return Err("password_file needs a user name in `source` (rtsp://user@host/…)".into());
    }
    if url.password().is_some() {
        return Err("give the password either in `source` or in password_file, not both".into());
    }
    url.set_password(Some(password))
        .map_err(|_| "cannot put a password into this URL".to_string())?;
    Ok(SensitiveUrl::new(url.to_string()))
}

impl Config {
    /// A copy fit to show: every secret replaced by `***`, every URL redacted.
    pub fn redacted(&self) -> Config {
        let mask = || Some(Secret::new(Secret::MASK));
        let url = |u: &SensitiveUrl| SensitiveUrl::new(u.redacted());
        let mut c = self.clone();
        for cam in &mut c.cameras {
            cam.source = url(&cam.source);
        }
        if c.upload.secret_access_key.is_some() {
            c.upload.secret_access_key = mask();
        }
        if c.upload.session_token.is_some() {
            c.upload.session_token = mask();
        }
        c.mqtt.url = c.mqtt.url.as_ref().map(url);
        if c.mqtt.password.is_some() {
            c.mqtt.password = mask();
        }
        c.relay.rtmp_url = c.relay.rtmp_url.as_ref().map(url);
        for user in &mut c.ftp.users {
            if user.password.is_some() {
                user.password = mask();
            }
        }
        if c.discovery.onvif_password.is_some() {
            c.discovery.onvif_password = mask();
        }
        if c.http.password.is_some() {
            c.http.password = mask();
        }
        c
    }
}
