//! The one RTMP publish session: a long-lived `ffmpeg -re -f mpegts -i pipe:0 -c copy -f flv`
//! fed file after file. Each file is remuxed to MPEG-TS by a short-lived ffmpeg whose output
//! is copied into the session's stdin; the TS demuxer absorbs the timestamp jump between files,
//! so the receiver sees one session with timestamps that only go forward
//! (../shared/TESTBED.md). A change of codec parameters needs a new session.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin};

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

pub struct Output {
    child: Child,
    stdin: Option<ChildStdin>,
    pub params: StreamParams,
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
            "-f",
            "mpegts",
            "-i",
            "pipe:0",
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "flv",
            url,
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let mut child = process::spawn_with_stdin("ffmpeg", &args)?;
        let stdin = child.stdin.take();
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
        })
    }

    /// Whether the session's ffmpeg still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Streams one file into the session; returns when it has been handed over whole (with
    /// `-re`, about its duration later).
    pub async fn send(&mut self, path: &Path) -> Result<(), OutputError> {
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
            Some(s) if s.success() => Ok(()),
            _ => Err(OutputError::Input(format!(
                "remux failed: {}",
                detail.lines().last().unwrap_or("unknown error")
            ))),
        }
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
