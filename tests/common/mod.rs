//! Helpers shared by the integration tests: the real binary, real files, real processes.
#![allow(dead_code)]

mod broker;
mod bundles;
mod netns;
mod nginx;
mod vm;
#[allow(unused_imports)]
pub use broker::*;
#[allow(unused_imports)]
pub use bundles::*;
#[allow(unused_imports)]
pub use netns::*;
#[allow(unused_imports)]
pub use nginx::*;
#[allow(unused_imports)]
pub use vm::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_camvault")
}

/// `camvault` with a clean environment: no stray CAMVAULT_* or RUST_LOG from the caller.
pub fn camvault() -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("CAMVAULT_")
            || k == "RUST_LOG"
            || k == "NOTIFY_SOCKET"
            || k == "JOURNAL_STREAM"
        {
            c.env_remove(k);
        }
    }
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run camvault");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A `camvault --config CONFIG <args>` that must succeed and print JSON.
pub fn cli_json(config: &Path, args: &[&str]) -> serde_json::Value {
    let r = run(camvault().arg("--config").arg(config).args(args));
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// `camvault status --json` for a config, which must succeed.
pub fn status(config: &Path) -> serde_json::Value {
    cli_json(config, &["status", "--json"])
}

/// `camvault segments --json`: the index, oldest first.
pub fn segments(config: &Path) -> Vec<serde_json::Value> {
    cli_json(config, &["segments", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// An RFC 3339 time from a JSON string.
pub fn time(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// One request line on the daemon's control socket, and its reply.
pub fn ask_socket(data_dir: &Path, line: &[u8]) -> serde_json::Value {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(data_dir.join("camvault.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(line).unwrap();
    let mut reply = String::new();
    std::io::BufReader::new(&s).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
}

pub fn write(path: &Path, text: &str) {
    fs::write(path, text).expect("write file");
}

pub fn write_secret(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).expect("write secret");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The shipped example config (overlay/), its secret files under /etc/camvault pointed into
/// `dir` and filled with `secret`.
pub fn example_config(dir: &Path, secret: &str) -> PathBuf {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/overlay/etc/camvault/camvault.toml"
    ))
    .unwrap();
    let text = example.replace("/etc/camvault/", &format!("{}/", dir.display()));
    for f in ["front.secret", "s3.secret"] {
        write_secret(&dir.join(f), secret, 0o600);
    }
    let path = dir.join("camvault.toml");
    write(&path, &text);
    path
}

/// A minimal valid config using `data_dir`, with `extra` appended. Tests stay off the
/// machine's network: no mDNS advert and no found cameras, unless `extra` has its own
/// `[discovery]`.
pub fn config(dir: &Path, extra: &str) -> PathBuf {
    let data = dir.join("data");
    let path = dir.join("camvault.toml");
    let quiet = if extra.contains("[discovery]") {
        ""
    } else {
        "\n[discovery]\nannounce = false\nauto_record = \"off\"\n"
    };
    write(
        &path,
        &format!(
            "[device]\nid = \"cv-test\"\ndata_dir = \"{}\"\n\n{extra}\n{quiet}",
            data.display()
        ),
    );
    path
}

/// A numeric test knob from the environment, or `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A replayable random source for the long VM runs: the seed comes from `seed_var` (else the
/// clock) and is printed, so a failing run can be replayed.
pub fn seeded_random(seed_var: &str) -> impl FnMut(u64) -> u64 {
    let mut seed = env_num(
        seed_var,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    eprintln!("{seed_var}={seed}");
    move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    }
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running daemon, killed on drop if the test did not stop it.
pub struct Daemon {
    pub child: Child,
    pub data_dir: PathBuf,
    pub config: PathBuf,
    /// Everything the daemon logged, read as it comes so a full pipe never blocks it.
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    pub fn start(config: &Path, data_dir: &Path, envs: &[(&str, &str)]) -> Daemon {
        let mut cmd = camvault();
        cmd.envs(envs.iter().copied());
        Daemon::start_cmd(cmd, config, data_dir)
    }

    /// `camvault run` inside network namespace `ns`.
    pub fn start_in(ns: &str, config: &Path, data_dir: &Path) -> Daemon {
        let mut cmd = Lan::exec(ns, bin());
        cmd.env_remove("RUST_LOG");
        Daemon::start_cmd(cmd, config, data_dir)
    }

    fn start_cmd(mut cmd: Command, config: &Path, data_dir: &Path) -> Daemon {
        cmd.arg("--config").arg(config).arg("run");
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn daemon");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let sock = data_dir.join("camvault.sock");
        let mut d = Daemon {
            child,
            data_dir: data_dir.to_path_buf(),
            config: config.to_path_buf(),
            log,
            reader: Some(reader),
        };
        wait_for("the control socket", Duration::from_secs(20), || {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("daemon exited early: {status}");
            }
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
        d
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What the daemon has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with a pid we own.
        assert_eq!(unsafe { libc_kill(self.pid(), sig) }, 0);
    }

    /// Waits for exit; returns the exit code and everything it logged.
    pub fn wait(mut self, timeout: Duration) -> (i32, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                let log = self.log.lock().unwrap().clone();
                return (status.code().unwrap_or(-1), log);
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("daemon did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// A free TCP port on 127.0.0.1 (bound and released; the peer binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The GStreamer RTSP camera of tests/support/rtsp_camera.py (H.264 + AAC), on 127.0.0.1.
pub struct RtspCamera {
    child: Option<Child>,
    pub port: u16,
    auth: Option<(String, String)>,
    extra: Vec<String>,
    /// (network namespace, address) when not on the host's 127.0.0.1.
    netns: Option<(String, String)>,
}

impl RtspCamera {
    pub fn start(port: u16, auth: Option<(&str, &str)>) -> RtspCamera {
        Self::start_with(port, auth, &[])
    }

    /// With more arguments for tests/support/rtsp_camera.py (`--pattern snow`, `--size …`).
    pub fn start_with(port: u16, auth: Option<(&str, &str)>, extra: &[&str]) -> RtspCamera {
        let mut cam = RtspCamera {
            child: None,
            port,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            netns: None,
        };
        cam.resume();
        cam
    }

    /// On `address` inside network namespace `ns`.
    pub fn start_in(ns: &str, address: &str, port: u16) -> RtspCamera {
        let mut cam = RtspCamera {
            child: None,
            port,
            auth: None,
            extra: vec!["--address".into(), address.into()],
            netns: Some((ns.into(), address.into())),
        };
        cam.resume();
        cam
    }

    pub fn url(&self) -> String {
        let host = self.netns.as_ref().map_or("127.0.0.1", |(_, a)| a.as_str());
        match &self.auth {
            Some((u, p)) => format!("rtsp://{u}:{p}@{host}:{}/stream", self.port),
            None => format!("rtsp://{host}:{}/stream", self.port),
        }
    }

    /// (Re)starts the server on the same port.
    pub fn resume(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/rtsp_camera.py");
        let mut cmd = match &self.netns {
            Some((ns, _)) => Lan::exec(ns, "/usr/bin/python3"),
            None => Command::new("/usr/bin/python3"),
        };
        cmd.arg(script).arg(self.port.to_string());
        if let Some((u, p)) = &self.auth {
            cmd.args(["--user", u, "--password", p]);
        }
        cmd.args(&self.extra);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the RTSP camera");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "RTSP camera on port {} did not start",
            self.port
        );
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ffprobe -v error <args> <path>`'s standard output.
pub fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// ffprobe's view of a file: (format duration, video span = last pts + its duration − first pts).
pub fn probe(path: &Path) -> Option<(f64, f64)> {
    let fmt = ffprobe(
        path,
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
    );
    let duration: f64 = fmt.trim().parse().ok()?;
    let text = ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
        ],
    );
    let pts: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            Some((it.next()?.parse().ok()?, it.next()?.parse().unwrap_or(0.0)))
        })
        .collect();
    let first = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let last = pts
        .iter()
        .map(|p| p.0 + p.1)
        .fold(f64::NEG_INFINITY, f64::max);
    (pts.len() > 1).then_some((duration, last - first))
}

/// A single-node Garage (S3) on loopback, with one bucket and one key.
/// `garage -c CONF ARGS…`, which must succeed; its output.
fn garage_cli(conf: &Path, args: &[&str]) -> String {
    let out = Command::new("garage")
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "garage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub struct Garage {
    child: Child,
    conf: PathBuf,
    pub port: u16,
    pub key_id: String,
    pub secret: String,
    pub bucket: String,
}

impl Garage {
    pub fn start(dir: &Path) -> Garage {
        let (rpc, api, admin) = (free_port(), free_port(), free_port());
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("garage.toml");
        write(
            &conf,
            &format!(
                "metadata_dir = \"{0}/meta\"\ndata_dir = \"{0}/data\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{1}\"\n[s3_api]\ns3_region = \"us-east-1\"\napi_bind_addr = \"127.0.0.1:{api}\"\n\
                 root_domain = \".s3.garage.localhost\"\n[admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\nadmin_token = \"{1}\"\n",
                dir.display(),
                "ab".repeat(32)
            ),
        );
        let child = Command::new("garage")
            .arg("-c")
            .arg(&conf)
            .arg("server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start garage (make test installs it)");
        let g = |args: &[&str]| garage_cli(&conf, args);
        wait_for("garage rpc", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", rpc)).is_ok()
        });
        let mut node = String::new();
        wait_for("garage node id", Duration::from_secs(20), || {
            let out = Command::new("garage")
                .arg("-c")
                .arg(&conf)
                .args(["node", "id", "-q"])
                .output()
                .unwrap();
            node = String::from_utf8_lossy(&out.stdout)
                .trim()
                .split('@')
                .next()
                .unwrap_or("")
                .to_string();
            out.status.success() && !node.is_empty()
        });
        g(&["layout", "assign", "-z", "dc1", "-c", "5G", &node]);
        g(&["layout", "apply", "--version", "1"]);
        let key_id = format!("GK{}", "0123456789abcdef01234567");
        let secret = "c0ffee".repeat(10) + "c0ff";
        g(&["key", "import", "--yes", "-n", "test", &key_id, &secret]);
        g(&["bucket", "create", "footage"]);
        g(&[
            "bucket", "allow", "--read", "--write", "--owner", "footage", "--key", "test",
        ]);
        wait_for("garage s3 api", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", api)).is_ok()
        });
        Garage {
            child,
            conf,
            port: api,
            key_id,
            secret,
            bucket: "footage".into(),
        }
    }

    /// A second key that may write to the bucket but not read it: (key id, secret).
    pub fn write_only_key(&self) -> (String, String) {
        let key_id = format!("GK{}", "fedcba9876543210fedcba98");
        let secret = "facade".repeat(10) + "face";
        garage_cli(
            &self.conf,
            &["key", "import", "--yes", "-n", "writer", &key_id, &secret],
        );
        garage_cli(
            &self.conf,
            &["bucket", "allow", "--write", "footage", "--key", "writer"],
        );
        (key_id, secret)
    }

    /// The `[upload]` section pointing camvault at this Garage (or at `port`, a proxy).
    pub fn upload_section(&self, port: u16, extra: &str) -> String {
        format!(
            "[upload]\ndestination = \"s3\"\nendpoint = \"http://127.0.0.1:{port}\"\nregion = \"us-east-1\"\nbucket = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n{extra}\n",
            self.bucket, self.key_id, self.secret
        )
    }

    /// Runs tests/support/s3tool.py (boto3) against this Garage.
    pub fn tool(&self, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/s3tool.py"
            ))
            .args([
                &format!("http://127.0.0.1:{}", self.port),
                &self.key_id,
                &self.secret,
                &self.bucket,
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "s3tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn conf(&self) -> &Path {
        &self.conf
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: std::time::Instant,
    pub method: String,
    pub target: String,
    pub fault: Option<&'static str>,
    /// The request's header names, lowercase.
    pub headers: Vec<String>,
}

/// The response with `x-amz-checksum-crc32c: SUM-N` headers rewritten to `SUM`.
fn strip_part_counts(resp: &[u8]) -> Vec<u8> {
    let Some(end) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return resp.to_vec();
    };
    let head = String::from_utf8_lossy(&resp[..end]);
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| match l.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("x-amz-checksum-crc32c") => {
                let v = v.trim();
                let sum = match v.rsplit_once('-') {
                    Some((sum, n)) if n.chars().all(|c| c.is_ascii_digit()) => sum,
                    _ => v,
                };
                format!("{k}: {sum}")
            }
            _ => l.to_string(),
        })
        .collect();
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(&resp[end..]);
    out
}

/// An HTTP proxy in front of an S3 server that fails a share of requests: 500, 503 SlowDown,
/// or a connection reset in the middle of the request body; it can also flip a byte in the
/// first request bodies it forwards. Logs every request.
pub struct FaultProxy {
    pub port: u16,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    /// What the server answered, as (method, target, status), once its answer was read whole.
    answered: std::sync::Arc<std::sync::Mutex<Vec<(String, String, u16)>>>,
}

impl FaultProxy {
    /// `fail_per_mille` of requests get a fault.
    pub fn start(upstream: u16, fail_per_mille: u32) -> FaultProxy {
        FaultProxy::start_corrupting(upstream, fail_per_mille, 0)
    }

    /// As `start`, and the first `corrupt_bodies` requests with a body reach the server with
    /// one byte flipped (fault "flip").
    pub fn start_corrupting(
        upstream: u16,
        fail_per_mille: u32,
        corrupt_bodies: usize,
    ) -> FaultProxy {
        FaultProxy::start_with(upstream, fail_per_mille, corrupt_bodies, false)
    }

    /// A faultless proxy that drops the `-N` part count from every
    /// `x-amz-checksum-crc32c` answer, as some S3 servers write composite checksums.
    pub fn start_stripping_part_counts(upstream: u16) -> FaultProxy {
        FaultProxy::start_with(upstream, 0, 0, true)
    }

    fn start_with(
        upstream: u16,
        fail_per_mille: u32,
        corrupt_bodies: usize,
        strip_counts: bool,
    ) -> FaultProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let corrupt = std::sync::Arc::new(AtomicUsize::new(corrupt_bodies));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l2 = log.clone();
        let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let a2 = answered.clone();
        std::thread::spawn(move || {
            let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
            for conn in listener.incoming().flatten() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let roll = (seed % 1000) as u32;
                let kind = if roll < fail_per_mille {
                    Some(["500", "503", "reset"][(seed / 1000 % 3) as usize])
                } else {
                    None
                };
                let log = l2.clone();
                let answered = a2.clone();
                let corrupt = corrupt.clone();
                std::thread::spawn(move || {
                    let mut client = conn;
                    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut first = text.lines().next().unwrap_or("").split_whitespace();
                    let (method, target) = (
                        first.next().unwrap_or("").to_string(),
                        first.next().unwrap_or("").to_string(),
                    );
                    let asked = (method.clone(), target.clone());
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    let kind = match kind {
                        None if len > 0
                            && corrupt
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok() =>
                        {
                            Some("flip")
                        }
                        k => k,
                    };
                    log.lock().unwrap().push(Seen {
                        at: std::time::Instant::now(),
                        method: method.clone(),
                        target,
                        fault: kind,
                        headers: text
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, _)| k.trim().to_ascii_lowercase())
                            .collect(),
                    });
                    let mut body = vec![0u8; len];
                    if kind == Some("reset") {
                        // Read half the body, then drop the connection with a RST.
                        let _ = client.read_exact(&mut body[..len / 2]);
                        linger_zero(&client);
                        drop(client);
                        return;
                    }
                    if client.read_exact(&mut body).is_err() {
                        return;
                    }
                    if kind == Some("flip") {
                        body[len / 2] ^= 0x55;
                    } else if let Some(code) = kind {
                        let (status, xml_code) = if code == "500" {
                            ("500 Internal Server Error", "InternalError")
                        } else {
                            ("503 Slow Down", "SlowDown")
                        };
                        let xml = format!(
                            "<?xml version=\"1.0\"?><Error><Code>{xml_code}</Code><Message>injected</Message></Error>"
                        );
                        let _ = write!(
                            client,
                            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                            xml.len()
                        );
                        return;
                    }
                    let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    // One request per connection: keep-alive off on both sides.
                    let head = text
                        .replace("\r\nconnection: keep-alive", "")
                        .replace("\r\nConnection: keep-alive", "");
                    let head = head.trim_end_matches("\r\n\r\n").to_string()
                        + "\r\nConnection: close\r\n\r\n";
                    if up.write_all(head.as_bytes()).is_err() || up.write_all(&body).is_err() {
                        return;
                    }
                    let mut resp = Vec::new();
                    if up.read_to_end(&mut resp).is_ok() {
                        let status = String::from_utf8_lossy(&resp[..resp.len().min(16)])
                            .split_whitespace()
                            .nth(1)
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0);
                        answered.lock().unwrap().push((asked.0, asked.1, status));
                    }
                    if strip_counts {
                        resp = strip_part_counts(&resp);
                    }
                    let _ = client.write_all(&resp);
                });
            }
        });
        FaultProxy {
            port,
            log,
            answered,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Per object path, how many whole-object PUTs and multipart completions the server
    /// acknowledged (2xx): an upload done twice shows as 2.
    pub fn completions(&self) -> std::collections::BTreeMap<String, usize> {
        let mut done = std::collections::BTreeMap::new();
        for (method, target, status) in self.answered() {
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let whole_put = method == "PUT" && !query.contains("partNumber=");
            let completion = method == "POST" && query.contains("uploadId=");
            if (whole_put || completion) && (200..300).contains(&status) {
                *done.entry(path.to_string()).or_default() += 1;
            }
        }
        done
    }

    /// The requests the server answered, as (method, target, HTTP status).
    pub fn answered(&self) -> Vec<(String, String, u16)> {
        self.answered.lock().unwrap().clone()
    }
}

/// Sets SO_LINGER to zero so closing sends a RST, like a connection cut mid-body.
fn linger_zero(s: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        onoff: i32,
        linger: i32,
    }
    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, val: *const Linger, len: u32) -> i32;
    }
    let l = Linger {
        onoff: 1,
        linger: 0,
    };
    // SOL_SOCKET = 1, SO_LINGER = 13 on Linux.
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            1,
            13,
            &l,
            std::mem::size_of::<Linger>() as u32,
        )
    };
}

/// The lean static ffmpeg of `scripts/lean-ffmpeg.sh`, built once (cached across runs).
pub fn lean_ffmpeg() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let out = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/lean-ffmpeg.sh"
        ))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run scripts/lean-ffmpeg.sh");
        assert!(out.status.success(), "scripts/lean-ffmpeg.sh failed");
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(std::path::Path::new(&path).is_file(), "no ffmpeg at {path}");
        path
    })
}

/// Signals a child started with `process_group(0)` and everything in its group (nginx's
/// workers), so nothing is left running.
pub fn kill_group(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), sig);
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, in `dir`: `ca.pem`,
/// `server.pem`, `server.key`.
pub fn make_certs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let sh = format!(
        "cd {} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=camvault-test-ca 2>/dev/null \
         && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null \
         && printf 'subjectAltName = IP:127.0.0.1\\n' > ext.cnf \
         && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null \
         && chmod 644 server.key",
        dir.display()
    );
    assert!(
        Command::new("sh")
            .arg("-c")
            .arg(sh)
            .status()
            .unwrap()
            .success(),
        "openssl"
    );
}

/// nginx as a TLS terminator in front of a plain-http server (Garage), with a certificate of
/// a private test CA (`ca_pem`). One process (no workers), stopped with its group.
/// nginx in the foreground of its own process group with `conf`, once it listens on `port`.
fn nginx(dir: &Path, conf: &Path, what: &str, port: u16) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let child = Command::new("nginx")
        .process_group(0)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx (make test installs it)");
    wait_for(what, Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    child
}

pub struct TlsProxy {
    child: std::process::Child,
    pub port: u16,
    pub ca_pem: PathBuf,
}

impl TlsProxy {
    pub fn start(dir: &Path, upstream: u16) -> TlsProxy {
        let certs = dir.join("certs");
        make_certs(&certs);
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = free_port();
        let conf = dir.join("nginx.conf");
        write(
            &conf,
            &format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
                 http {{ access_log off; client_max_body_size 0; proxy_request_buffering off;\n\
                   proxy_buffering off; client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp;\n\
                   fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
                   server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {c}/server.pem;\n\
                     ssl_certificate_key {c}/server.key;\n\
                     location / {{ proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1;\n\
                       proxy_set_header Host $http_host; proxy_set_header Connection \"\"; }} }} }}\n",
                d = dir.display(),
                c = certs.display(),
            ),
        );
        let child = nginx(dir, &conf, "the TLS proxy", port);
        TlsProxy {
            child,
            port,
            ca_pem: certs.join("ca.pem"),
        }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        kill_group(&self.child, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// nginx serving the files of `root` over plain http, at `rate` bytes per second per
/// connection (0: unlimited), logging `status bytes_sent "range"` per request.
pub struct FileServer {
    child: std::process::Child,
    pub port: u16,
    log: PathBuf,
}

impl FileServer {
    pub fn start(dir: &Path, root: &Path, rate: u64) -> FileServer {
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = free_port();
        let conf = dir.join("files-nginx.conf");
        let log = dir.join("files-access.log");
        write(
            &conf,
            &format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/files-nginx.pid;\n\
                 error_log {d}/files-error.log warn;\nevents {{ worker_connections 64; }}\n\
                 http {{ log_format ranges '$status $body_bytes_sent \"$http_range\"';\n\
                   access_log {log} ranges; client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp;\n\
                   fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
                   server {{ listen 127.0.0.1:{port}; root {root}; limit_rate {rate}; }} }}\n",
                d = dir.display(),
                log = log.display(),
                root = root.display(),
            ),
        );
        let child = nginx(dir, &conf, "the file server", port);
        FileServer { child, port, log }
    }

    /// Each request so far: (HTTP status, body bytes sent, Range header or "-").
    pub fn requests(&self) -> Vec<(u16, u64, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.splitn(3, ' ');
                Some((
                    w.next()?.parse().ok()?,
                    w.next()?.parse().ok()?,
                    w.next()?.trim_matches('"').to_string(),
                ))
            })
            .collect()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        kill_group(&self.child, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
