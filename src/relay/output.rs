//! The one RTMP publish session: a long-lived `ffmpeg -re -f mpegts -i pipe:0 -c copy -f flv`
//! fed file after file. Each file is remuxed to MPEG-TS by a short-lived ffmpeg whose output
//! is copied into the session's stdin; the TS demuxer absorbs the timestamp jump between files,
//! so the receiver sees one session with timestamps that only go forward
//! (../shared/TESTBED.md). A change of codec parameters needs a new session.
//!
//! A file counts as sent once the session's own progress (`-progress`, its output time) has
//! passed the file's end on the session timeline, not when its bytes went into the pipe:
//! with `-re` the pipe and ffmpeg's buffers hold a second or more of video, which a crash
//! would lose.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::watch;

use crate::config::scrub;
use crate::media::{MediaError, process};

/// What must stay the same across files of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    pub video: String,
    pub audio: Option<String>,
}

/// A probed input file.
#[derive(Debug, Clone)]
pub struct Probed {
    pub params: StreamParams,
    pub duration_s: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file is at fault: retry it later, then give up on it.
    #[error("{0}")]
    Input(String),
    /// The session is at fault (server gone, ffmpeg died): reconnect and send the file again.
    #[error("RTMP output: {0}")]
    Output(String),
    #[error(transparent)]
    Media(#[from] MediaError),
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    sample_rate: Option<String>,
    channels: Option<u32>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

/// `file:` keeps ffmpeg from reading a name like `concat:x.mp4` or `-y.mp4` as anything but
/// a path.
fn file_arg(path: &Path) -> OsString {
    let mut s = OsString::from("file:");
    s.push(path.as_os_str());
    s
}

/// ffprobe: a video stream and a positive duration, or why not.
pub async fn probe(path: &Path) -> Result<Probed, OutputError> {
    let args: Vec<OsString> = vec![
        "-v".into(),
        "error".into(),
        "-show_entries".into(),
        "stream=codec_type,codec_name,width,height,sample_rate,channels:format=duration".into(),
        "-of".into(),
        "json".into(),
        file_arg(path),
    ];
    let out = process::output("ffprobe", args).await?;
    let parsed: ProbeJson = serde_json::from_slice(&out.stdout)
        .map_err(|_| OutputError::Input("ffprobe could not read it".into()))?;
    let kind = |t: &str| {
        parsed
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some(t))
    };
    let v = kind("video").ok_or_else(|| OutputError::Input("no video stream".into()))?;
    let duration_s = parsed
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.parse::<f64>().ok())
        .unwrap_or(0.0);
    if duration_s.is_nan() || duration_s <= 0.0 {
        return Err(OutputError::Input("no positive duration".into()));
    }
    let name = |s: &ProbeStream| s.codec_name.clone().unwrap_or_default();
    let params = StreamParams {
        video: format!(
            "{} {}x{}",
            name(v),
            v.width.unwrap_or(0),
            v.height.unwrap_or(0)
        ),
        audio: kind("audio").map(|a| {
            format!(
                "{} {} Hz {} ch",
                name(a),
                a.sample_rate.clone().unwrap_or_default(),
                a.channels.unwrap_or(0)
            )
        }),
    };
    Ok(Probed { params, duration_s })
}

/// Up to this much of a file's end may still be inside ffmpeg when it counts as pushed: the
/// MPEG-TS demuxer holds each stream's last PES (a frame of video, a few of audio: 0.14 s
/// measured with 25 fps and AAC) until the next file's data arrives.
const END_SLACK_S: f64 = 0.25;
/// How long past the expected moment a file may take to be pushed before the session is
/// taken for stuck (and the file goes again on a new one). Covers ffmpeg's stream probing
/// when a session opens.
const PUSH_GRACE: Duration = Duration::from_secs(30);

pub struct Output {
    child: Child,
    stdin: Option<ChildStdin>,
    pub params: StreamParams,
    /// The session's output time (s), from its progress lines.
    pushed: watch::Receiver<f64>,
    /// Where the end of the last file handed over lies on the session timeline (s).
    handed: f64,
}

impl Output {
    /// Opens the session. The stream key is in `url`: ffmpeg's messages are scrubbed of it.
    pub fn start(
        url: &str,
        secrets: Vec<String>,
        params: StreamParams,
    ) -> Result<Output, OutputError> {
        let args: Vec<OsString> = [
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            // By default ffmpeg probes 5 s of stream (0 means that default too) before it
            // writes anything, so a lone short clip waited for the next one to arrive. 0.2 s
            // sees the first video and audio frames.
            "-analyzeduration",
            "200000",
            "-f",
            "mpegts",
            "-i",
            "pipe:0",
            "-map",
            "0",
            "-c",
            "copy",
            // ffmpeg prints progress only between packets, at most once a stats period, and
            // not while it waits for input. A clip that arrives after a pause is read in one
            // burst (-re has nothing to hold back): with a longer period, its last packets
            // would go unreported until the next clip, which waits for them. One report per
            // packet (a few dozen short lines a second of media) reports each clip's end.
            "-progress",
            "pipe:1",
            "-stats_period",
            "0.000001",
            "-f",
            "flv",
            url,
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let mut child = process::spawn_with_stdin("ffmpeg", &args)?;
        let stdin = child.stdin.take();
        let (tx, pushed) = watch::channel(0.0);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    if let Some(s) = out_time_s(&l) {
                        tx.send_if_modified(|t| (s > *t).then(|| *t = s).is_some());
                    }
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    tracing::warn!("relay ffmpeg: {}", scrub(&l, &secrets));
                }
            });
        }
        Ok(Output {
            child,
            stdin,
            params,
            pushed,
            handed: 0.0,
        })
    }

    /// Whether the session's ffmpeg still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Streams one file of `duration_s` into the session; returns once the session has
    /// pushed it (with `-re`, about its duration later).
    pub async fn send(&mut self, path: &Path, duration_s: f64) -> Result<(), OutputError> {
        let args: Vec<OsString> = vec![
            "-hide_banner".into(),
            "-nostdin".into(),
            "-loglevel".into(),
            "error".into(),
            "-i".into(),
            file_arg(path),
            "-map".into(),
            "0:v:0".into(),
            "-map".into(),
            "0:a:0?".into(),
            "-c".into(),
            "copy".into(),
            "-f".into(),
            "mpegts".into(),
            "pipe:1".into(),
        ];
        let mut remux = process::spawn("ffmpeg", &args)?;
        let mut from = remux.stdout.take().expect("piped");
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| OutputError::Output("the session is closed".into()))?;
        let copied = tokio::io::copy(&mut from, stdin).await;
        let status = process::stop(&mut remux, Duration::from_secs(2)).await;
        let mut detail = String::new();
        if let Some(mut err) = remux.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = err.read_to_string(&mut detail).await;
        }
        if let Err(e) = copied {
            return Err(OutputError::Output(e.to_string()));
        }
        if !self.alive() {
            return Err(OutputError::Output("ffmpeg exited".into()));
        }
        match status {
            Some(s) if s.success() => {}
            _ => {
                return Err(OutputError::Input(format!(
                    "remux failed: {}",
                    detail.lines().last().unwrap_or("unknown error")
                )));
            }
        }
        self.handed += duration_s;
        self.wait_pushed().await
    }

    /// Until the session's output time reaches the end of what was handed over.
    async fn wait_pushed(&mut self) -> Result<(), OutputError> {
        let target = self.handed - END_SLACK_S;
        let behind = (target - *self.pushed.borrow()).max(0.0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(behind) + PUSH_GRACE;
        while *self.pushed.borrow_and_update() < target {
            tokio::select! {
                r = self.pushed.changed() => if r.is_err() {
                    return Err(OutputError::Output("ffmpeg exited".into()));
                },
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(OutputError::Output(format!(
                        "the session pushed {:.1} s of {:.1} s",
                        *self.pushed.borrow(),
                        self.handed
                    )));
                }
            }
        }
        Ok(())
    }

    /// Ends the session cleanly: end of input, then ffmpeg flushes and closes the publish.
    pub async fn close(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            process::stop(&mut self.child, Duration::from_secs(2)).await;
        }
    }
}

/// The output time of one `-progress` line (`out_time_us=4320000`), in seconds.
fn out_time_s(line: &str) -> Option<f64> {
    let us: i64 = line.strip_prefix("out_time_us=")?.trim().parse().ok()?;
    (us >= 0).then(|| us as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::out_time_s;

    #[test]
    fn progress_lines() {
        assert_eq!(out_time_s("out_time_us=4320000"), Some(4.32));
        assert_eq!(out_time_s("out_time_us=N/A"), None);
        assert_eq!(out_time_s("out_time_us=-9000"), None);
        assert_eq!(out_time_s("out_time_ms=4320000"), None);
        assert_eq!(out_time_s("total_size=4096"), None);
    }
}
