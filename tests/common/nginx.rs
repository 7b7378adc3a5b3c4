//! nginx with the RTMP module as the relay's receiver, and clips whose pictures say which
//! clip they are, so what nginx recorded tells what arrived, in what order, and how much.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, kill_group, run, wait_for, write};

/// The stream key in every test's RTMP URL: a secret that must never show in a log.
pub const RTMP_KEY: &str = "key-Canary-8841";

/// nginx with the RTMP module on 127.0.0.1, recording every publish session to one FLV file
/// and appending `publish <name>` / `done <name>` to a hooks file.
pub struct Nginx {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
}

impl Nginx {
    pub fn start(dir: &Path) -> Nginx {
        let port = free_port();
        let rec = dir.join("rec");
        std::fs::create_dir_all(&rec).unwrap();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let hook = dir.join("hook.sh");
        write(
            &hook,
            &format!(
                "#!/bin/sh\necho \"$1 $2\" >> {}\n",
                dir.join("hooks.txt").display()
            ),
        );
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let conf = dir.join("nginx.conf");
        write(
            &conf,
            &format!(
                "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n\
                 daemon off;\nmaster_process on;\nuser root;\nworker_processes 1;\n\
                 pid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
                 events {{ worker_connections 64; }}\n\
                 rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096;\n\
                   application live {{ live on; record all; record_path {rec}; record_unique on;\n\
                     exec_publish {hook} publish $name; exec_publish_done {hook} done $name; }} }} }}\n",
                d = dir.display(),
                rec = rec.display(),
                hook = hook.display(),
            ),
        );
        let mut n = Nginx {
            child: None,
            dir: dir.to_path_buf(),
            port,
        };
        n.resume();
        n
    }

    pub fn resume(&mut self) {
        // Its own process group, so stopping it stops its workers too.
        let child = Command::new("nginx")
            .process_group(0)
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx (apt-get install nginx libnginx-mod-rtmp)");
        self.child = Some(child);
        let port = self.port;
        wait_for("nginx to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: a fast stop that drops the publishing client, as a server restart does
            // (SIGQUIT would wait for the client to leave).
            kill_group(&c, nix::sys::signal::Signal::SIGTERM);
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("rtmp://127.0.0.1:{}/live/{RTMP_KEY}", self.port)
    }

    pub fn hooks(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("hooks.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn publishes(&self) -> usize {
        self.hooks()
            .iter()
            .filter(|l| l.starts_with("publish"))
            .count()
    }

    /// Once nginx has ended every publish session (its `done` hooks), the FLV it recorded of
    /// each, in order.
    pub fn closed_sessions(&self, timeout: Duration) -> Vec<PathBuf> {
        wait_for("nginx to close every session", timeout, || {
            let h = self.hooks();
            h.iter().filter(|l| l.starts_with("done")).count() == self.publishes()
        });
        self.recordings()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "flv"))
            .collect()
    }

    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.join("rec"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(&c, nix::sys::signal::Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

/// An H.264 + AAC clip of `secs` seconds from a lavfi video source and a sine tone.
pub fn encode_clip(path: &Path, video: &str, audio_hz: usize, secs: u32, extra: &[&str]) {
    let r = run(Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i",
        ])
        .arg(format!(
            "sine=frequency={audio_hz}:sample_rate=48000:duration={secs}"
        ))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(extra)
        .args(["-c:a", "aac", "-b:a", "64k", "-shortest"])
        .arg(path));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `n` clips of `secs` seconds, each one flat grey level (clip i at luma 32 + 20 i), so the
/// receiver's recording tells which clip each moment came from.
pub fn grey_clips(dir: &Path, n: usize, secs: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("cam1_20260122_11{:02}{:02}.mp4", i / 60, i % 60));
            let v = 32 + 20 * i;
            let video =
                format!("color=c=0x{v:02x}{v:02x}{v:02x}:size=160x120:rate=25:duration={secs}");
            encode_clip(&p, &video, 440, secs, &["-color_range", "pc"]);
            p
        })
        .collect()
}

/// Which grey level (clip `i` of [`grey_clips`] shows level `i`) each fifth of a second of a
/// recording shows, as runs of (level, seconds).
pub fn clip_runs(rec: &Path, levels: usize) -> Vec<(usize, f64)> {
    let stats = rec.with_extension("yavg");
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(rec)
        .arg("-vf")
        .arg(format!(
            "fps=5,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file={}",
            stats.display()
        ))
        .args(["-f", "null", "-"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut runs: Vec<(usize, f64)> = Vec::new();
    for l in std::fs::read_to_string(&stats).unwrap_or_default().lines() {
        let Some(v) = l
            .split("YAVG=")
            .nth(1)
            .and_then(|v| v.trim().parse::<f64>().ok())
        else {
            continue;
        };
        // The encoder may map full-range levels to limited range: take the nearest of both.
        let idx = (0..levels)
            .min_by(|a, b| {
                let d = |i: &usize| {
                    let full = (32 + 20 * i) as f64;
                    let limited = 16.0 + full * 219.0 / 255.0;
                    (v - full).abs().min((v - limited).abs())
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        match runs.last_mut() {
            Some((i, secs)) if *i == idx => *secs += 0.2,
            _ => runs.push((idx, 0.2)),
        }
    }
    runs
}

/// What nginx received of grey clips sent in order, clip `i` showing grey level
/// `i % levels`: the longest stretch of each clip seen in one piece, and the clips that came
/// twice.
#[derive(Debug, Default)]
pub struct Received {
    pub longest: std::collections::BTreeMap<usize, f64>,
    /// Clips a session ended in and the next began with again: the one in flight at a break.
    pub again: Vec<usize>,
}

impl Received {
    /// Clips `0..n` that never arrived whole (within half a second of `secs` in one piece),
    /// with the longest piece seen.
    pub fn not_whole(&self, n: usize, secs: u32) -> Vec<(usize, f64)> {
        (0..n)
            .map(|i| (i, self.longest.get(&i).copied().unwrap_or(0.0)))
            .filter(|(_, s)| *s < f64::from(secs) - 0.5)
            .collect()
    }
}

/// Reads nginx's recordings (one per publish session, in order) and checks the relay's
/// promise about them: within a session, clip after clip with none skipped or repeated; a new
/// session starts with the clip the last one ended in (it was in flight), or the next. An
/// `Err` says where that broke.
pub fn received_clips(recordings: &[PathBuf], levels: usize) -> Result<Received, String> {
    let mut got = Received::default();
    let mut last: Option<usize> = None;
    for rec in recordings {
        let runs = clip_runs(rec, levels);
        let name = rec.file_name().unwrap_or_default().to_string_lossy();
        for (j, (level, secs)) in runs.iter().copied().enumerate() {
            let clip = match (j, last) {
                (0, None) if level == 0 => 0,
                (0, Some(k)) if level == k % levels => {
                    got.again.push(k);
                    k
                }
                (_, Some(k)) if level == (k + 1) % levels => k + 1,
                _ => {
                    return Err(format!(
                        "{name}: grey level {level} after clip {last:?} (run {j} of {runs:?})"
                    ));
                }
            };
            let longest = got.longest.entry(clip).or_default();
            *longest = longest.max(secs);
            last = Some(clip);
        }
    }
    Ok(got)
}
