//! Helpers shared by the integration tests: the real binary, real files, real processes.
#![allow(dead_code)]

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

pub fn write(path: &Path, text: &str) {
    fs::write(path, text).expect("write file");
}

pub fn write_secret(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).expect("write secret");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A minimal valid config using `data_dir`, with `extra` appended.
pub fn config(dir: &Path, extra: &str) -> PathBuf {
    let data = dir.join("data");
    let path = dir.join("camvault.toml");
    write(
        &path,
        &format!(
            "[device]\nid = \"cv-test\"\ndata_dir = \"{}\"\n\n{extra}\n",
            data.display()
        ),
    );
    path
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
        cmd.arg("--config").arg(config).arg("run");
        cmd.envs(envs.iter().copied());
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
}

impl RtspCamera {
    pub fn start(port: u16, auth: Option<(&str, &str)>) -> RtspCamera {
        let mut cam = RtspCamera {
            child: None,
            port,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        cam.resume();
        cam
    }

    pub fn url(&self) -> String {
        match &self.auth {
            Some((u, p)) => format!("rtsp://{u}:{p}@127.0.0.1:{}/stream", self.port),
            None => format!("rtsp://127.0.0.1:{}/stream", self.port),
        }
    }

    /// (Re)starts the server on the same port.
    pub fn resume(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/rtsp_camera.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(self.port.to_string());
        if let Some((u, p)) = &self.auth {
            cmd.args(["--user", u, "--password", p]);
        }
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

/// ffprobe's view of a file: (format duration, video span = last pts + its duration − first pts).
pub fn probe(path: &Path) -> Option<(f64, f64)> {
    let fmt = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .ok()?;
    let duration: f64 = String::from_utf8_lossy(&fmt.stdout).trim().parse().ok()?;
    let pk = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&pk.stdout);
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
