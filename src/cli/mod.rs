//! The command line: parsing, exit codes (0 ok, 1 runtime failure, 2 bad usage or config),
//! and one line on stderr for every failure.

mod args;
mod demo;
mod ota;
mod print;
mod provision;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;

use crate::base::clock::{Clock, SystemClock, parse_time};
use crate::config::{self, Config, ConfigError, Destination};
use crate::control::{self, ControlError};
use crate::health::{self, Status};
use crate::store::{JobState, MediaKind, SegmentFilter, Store};

use args::{Cli, Cmd, KindArg, OnOff, RelayVerb, UploadVerb};

/// Why a command failed, and so its exit code.
enum Failure {
    Usage(String),
    Config(ConfigError),
    Runtime(String),
}

impl Failure {
    fn runtime(e: impl std::fmt::Display) -> Failure {
        Failure::Runtime(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // clap prints help/version (exit 0) or the usage error (exit 2) itself.
        Err(e) => e.exit(),
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let (code, msg) = match f {
                Failure::Usage(m) => (2, m),
                Failure::Config(e) => (2, e.to_string()),
                Failure::Runtime(m) => (1, m),
            };
            eprintln!("camvault: {}", msg.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}

fn config_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH))
}

fn load(path: &Path) -> Result<Config, Failure> {
    config::load_file(path).map_err(Failure::Config)
}

fn runtime(multi: bool) -> Result<tokio::runtime::Runtime, Failure> {
    let mut b = if multi {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().map_err(Failure::runtime)
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    let path = config_path(&cli);
    match cli.command {
        Cmd::Run => {
            let cfg = load(&path)?;
            crate::logging::init(&cfg.log.level);
            let exit = runtime(true)?
                .block_on(crate::daemon::run(cfg))
                .map_err(|e| match e {
                    crate::daemon::DaemonError::Unusable(u) => Failure::Usage(u.to_string()),
                    e => Failure::runtime(e),
                })?;
            match exit {
                crate::daemon::Exit::Stopped => Ok(()),
                crate::daemon::Exit::Restart => Err(Failure::runtime(exec_self())),
            }
        }
        Cmd::Demo { dir, seconds } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("camvault-demo"));
            let dir = std::path::absolute(&dir).map_err(Failure::runtime)?;
            let cfg = demo::config(&dir).map_err(Failure::Config)?;
            crate::logging::init(&cfg.log.level);
            runtime(true)?
                .block_on(demo::run(cfg, seconds))
                .map_err(Failure::runtime)
        }
        Cmd::Provision {
            state_dir,
            credentials,
        } => {
            let text = std::fs::read_to_string(&path).map_err(Failure::runtime)?;
            let mut doc: toml_edit::DocumentMut = text
                .parse()
                .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
            let id_file = state_dir.join("device-id");
            let known = std::fs::read_to_string(&id_file)
                .ok()
                .map(|s| s.trim().to_string());
            let done =
                provision::provision(&mut doc, &state_dir, known).map_err(Failure::runtime)?;
            if let Some(id) = &done.device_id {
                std::fs::write(&id_file, format!("{id}\n")).map_err(Failure::runtime)?;
            }
            std::fs::write(&path, doc.to_string()).map_err(Failure::runtime)?;
            if let (Some(c), false) = (credentials, done == provision::Provisioned::default()) {
                std::fs::write(c, provision::credentials_text(&done)).map_err(Failure::runtime)?;
            }
            eprintln!(
                "camvault: provisioned {}: device id {}, {} FTP password(s) made",
                path.display(),
                done.device_id.as_deref().unwrap_or("kept"),
                done.ftp_passwords.len()
            );
            Ok(())
        }
        Cmd::CheckConfig => {
            let cfg = load(&path)?;
            let text = toml::to_string_pretty(&cfg.redacted()).map_err(Failure::runtime)?;
            println!(
                "# effective configuration of {} (secrets redacted)\n{text}",
                path.display()
            );
            eprintln!("camvault: {}: OK", path.display());
            Ok(())
        }
        Cmd::Status { json } => {
            let cfg = load(&path)?;
            let status = status(&cfg)?;
            if json {
                print::json(&status)
            } else {
                print::status(&status);
                print_web_login(&cfg);
                Ok(())
            }
        }
        Cmd::Segments {
            camera,
            since,
            until,
            limit,
            kind,
            json,
        } => {
            let cfg = load(&path)?;
            let now = SystemClock.now();
            let time = |t: Option<String>| {
                t.map(|t| parse_time(&t, now))
                    .transpose()
                    .map_err(|e| Failure::Usage(e.to_string()))
            };
            let filter = SegmentFilter {
                camera,
                since: time(since)?,
                until: time(until)?,
                state: None,
                kind: match kind {
                    KindArg::Continuous => Some(MediaKind::Continuous),
                    KindArg::Clip => Some(MediaKind::Clip),
                    KindArg::Snapshot => Some(MediaKind::Snapshot),
                    KindArg::All => None,
                },
                limit,
            };
            let store = open_store(&cfg)?;
            let rows = store
                .blocking_read(move |db| db.segments(&filter))
                .map_err(Failure::runtime)?;
            if json {
                print::json(&rows)
            } else {
                print::segments(&rows);
                Ok(())
            }
        }
        Cmd::Snapshot {
            camera,
            out,
            reason,
            json,
        } => {
            let cfg = load(&path)?;
            let mut args = serde_json::json!({ "camera": camera });
            if let Some(r) = reason {
                args["reason"] = r.into();
            }
            let v = ask_daemon(&cfg, "snapshot", args, std::time::Duration::from_secs(30))?;
            if let (Some(out), Some(rel)) = (out, v.get("path").and_then(Value::as_str)) {
                std::fs::copy(cfg.device.data_dir.join(rel), &out).map_err(Failure::runtime)?;
            }
            print_media(&cfg, v, json)
        }
        Cmd::Clip {
            camera,
            at,
            pre,
            post,
            json,
        } => {
            let cfg = load(&path)?;
            let now = SystemClock.now();
            let wait = match &at {
                Some(t) => parse_time(t, now).map_err(|e| Failure::Usage(e.to_string()))?,
                None => now,
            } - now;
            let post_s = post.unwrap_or(crate::control::DEFAULT_POST_S);
            let timeout = wait.num_seconds().max(0) as u64 + u64::from(post_s) + 120;
            let args =
                serde_json::json!({ "camera": camera, "at": at, "pre_s": pre, "post_s": post });
            let v = ask_daemon(&cfg, "clip", args, std::time::Duration::from_secs(timeout))?;
            print_media(&cfg, v, json)
        }
        Cmd::Record { camera, state } => {
            let args =
                serde_json::json!({ "camera": camera, "enabled": matches!(state, OnOff::On) });
            print::json(&ask_daemon(&load(&path)?, "record", args, SHORT)?)
        }
        Cmd::Upload { action } => {
            let action = match action {
                UploadVerb::Pause => "pause",
                UploadVerb::Resume => "resume",
                UploadVerb::RetryFailed => "retry-failed",
            };
            let args = serde_json::json!({ "action": action });
            print::json(&ask_daemon(&load(&path)?, "upload", args, SHORT)?)
        }
        Cmd::Relay { action } => {
            let action = match action {
                RelayVerb::Start => "start",
                RelayVerb::Stop => "stop",
            };
            let args = serde_json::json!({ "action": action });
            print::json(&ask_daemon(&load(&path)?, "relay", args, SHORT)?)
        }
        Cmd::Ota { action } => ota::run(action, || {
            let cfg = load(&path)?;
            Ok(ota::Settings {
                keyring: cfg.ota.keyring.clone(),
                allow_downgrade: cfg.ota.allow_downgrade,
                data_dir: Some(crate::base::DataDir::new(&cfg.device.data_dir)),
            })
        }),
        Cmd::Discover { json } => {
            let found = ask_daemon(&load(&path)?, "discover", Value::Null, SHORT)?;
            if json {
                print::json(&found)
            } else {
                print!("{}", print::discovered(&found));
                Ok(())
            }
        }
        Cmd::Queue { json } => {
            let cfg = load(&path)?;
            let destination = match cfg.upload.destination {
                Destination::S3 => "s3",
                Destination::Dir => "dir",
                Destination::None => "none",
            };
            let mut queue = print::Queue {
                destination,
                pending: Vec::new(),
                in_flight: Vec::new(),
                failed: Vec::new(),
            };
            if cfg.upload.destination != Destination::None {
                let store = open_store(&cfg)?;
                let jobs = store
                    .blocking_read(|db| {
                        db.jobs(&[JobState::Pending, JobState::Uploading, JobState::Failed])
                    })
                    .map_err(Failure::runtime)?;
                for j in jobs {
                    match j.state {
                        JobState::Pending => queue.pending.push(j),
                        JobState::Uploading => queue.in_flight.push(j),
                        _ => queue.failed.push(j),
                    }
                }
            }
            if json {
                print::json(&queue)
            } else {
                print::queue(&queue);
                Ok(())
            }
        }
    }
}

/// Sends a command the daemon must serve (there is no offline fallback) and prints its result.
/// How long a quick command may take.
/// Where the status page is and, for root only (it can read the file anyway), its password:
/// the one place besides credentials.txt a user finds it.
fn print_web_login(cfg: &Config) {
    let Some(addr) = cfg.http.listen else { return };
    let page = format!("http://camvault-{}.local:{}/", cfg.device.id, addr.port());
    let password = if nix::unistd::geteuid().is_root() {
        cfg.http
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .or_else(|| {
                let file = cfg.http.password_file.clone().unwrap_or_else(|| {
                    crate::web::default_password_file(&crate::base::DataDir::new(
                        &cfg.device.data_dir,
                    ))
                });
                std::fs::read_to_string(file)
                    .ok()
                    .map(|s| s.trim_end().to_string())
            })
    } else {
        None
    };
    match password {
        Some(pw) => println!(
            "status page: {page} (user {}, password {pw})",
            cfg.http.username
        ),
        None => println!(
            "status page: {page} (user {}; the password is root's to read)",
            cfg.http.username
        ),
    }
}

/// Starts this program again in the same process (same pid, arguments and environment):
/// returns only if the exec failed.
fn exec_self() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new("/proc/self/exe");
    if let Some(name) = args.next() {
        cmd.arg0(name);
    }
    cmd.args(args).exec()
}

const SHORT: std::time::Duration = std::time::Duration::from_secs(30);

fn ask_daemon(
    cfg: &Config,
    name: &str,
    args: Value,
    timeout: std::time::Duration,
) -> Result<Value, Failure> {
    let socket = control::socket_path(&cfg.device.data_dir);
    match control::request_within(&socket, name, args, timeout) {
        Ok(reply) if reply.ok => Ok(reply.result.unwrap_or(Value::Null)),
        Ok(reply) => {
            let error = reply.error.unwrap_or_default();
            Err(match reply.error_kind {
                // What the daemon refuses as wrong is bad usage, like a bad flag.
                Some(control::ErrorKind::Usage | control::ErrorKind::Unavailable) => {
                    Failure::Usage(error)
                }
                _ => Failure::Runtime(error),
            })
        }
        Err(ControlError::NotRunning(_)) => Err(Failure::Runtime(format!(
            "`{name}` needs the running daemon (start it with `camvault run`)"
        ))),
        Err(e) => Err(Failure::runtime(e)),
    }
}

/// A new clip or snapshot: its absolute path (the daemon's answer is relative to
/// `data_dir`), the object key and, on S3, the presigned URL.
fn print_media(cfg: &Config, mut v: Value, json: bool) -> Result<(), Failure> {
    if let Some(rel) = v.get("path").and_then(Value::as_str) {
        let abs = cfg.device.data_dir.join(rel).display().to_string();
        v["path"] = Value::String(abs);
    }
    if json {
        return print::json(&v);
    }
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    println!("path: {}", field("path"));
    println!("key:  {}", field("key"));
    if let Some(url) = v.get("url").and_then(Value::as_str) {
        println!("url:  {url}");
    }
    Ok(())
}

fn open_store(cfg: &Config) -> Result<Store, Failure> {
    Store::open_read_only(&crate::base::DataDir::new(&cfg.device.data_dir).db())
        .map_err(Failure::runtime)
}

/// Asks the daemon; falls back to the store when no daemon listens. A daemon whose
/// connections are all taken is asked again for a few seconds: idle connections give their
/// slot back within five.
fn status(cfg: &Config) -> Result<Status, Failure> {
    let socket = control::socket_path(&cfg.device.data_dir);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let mut answer = control::request(&socket, "status", Value::Null);
    while let Ok(reply) = &answer
        && !reply.ok
        && reply
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("busy"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(250));
        answer = control::request(&socket, "status", Value::Null);
    }
    match answer {
        Ok(reply) if reply.ok => {
            serde_json::from_value(reply.result.unwrap_or(Value::Null)).map_err(Failure::runtime)
        }
        Ok(reply) => Err(Failure::Runtime(format!(
            "daemon refused status: {}",
            reply.error.unwrap_or_default()
        ))),
        Err(ControlError::NotRunning(_)) => {
            let store = open_store(cfg)?;
            // Found cameras are the daemon's cameras too (none in a store from before them).
            let mut cfg = cfg.clone();
            let found = store
                .blocking_read(|db| db.auto_cameras())
                .unwrap_or_default();
            crate::discovery::auto::merge(&mut cfg, &found);
            health::offline_status(&cfg, &store, SystemClock.now()).map_err(Failure::runtime)
        }
        Err(e) => Err(Failure::runtime(e)),
    }
}
