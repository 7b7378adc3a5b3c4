//! One camera: `run()` loops over `run_once()` (one ffmpeg from spawn to exit) with capped
//! exponential backoff, a shortcut back when an unreachable camera answers again, and the
//! camera's state and figures published to health.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as CDuration, Utc};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::layout::{self, relative_path};
use super::{Ctx, RecorderError, SegmentEvent, recovery};
use crate::base::durable::{fsync_file_and_dir, sync_growing};
use crate::base::{Backoff, HEALTHY_AFTER};
use crate::config::{CameraConfig, SourceKind, scrub, url_secrets};
use crate::health::{CameraLive, CameraState};
use crate::media::args::{
    ListedSegment, RecordSpec, copies_video, parse_segment_line, record_args,
};
use crate::media::progress::{LogLevel, Stats, StderrLine, parse_line};
use crate::media::{process, v4l2};
use crate::store::{SegmentEnd, SegmentState};

/// No new media for this long: ffmpeg is stuck, restart it.
const STALL_AFTER: Duration = Duration::from_secs(20);
/// No media at all this long after start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// ffmpeg gets this long after its SIGINT to finish the segment it writes.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the open segment is looked at and, when it grew, flushed: ffmpeg appends a whole
/// fragment at a time, so a fragment is on the card at most this long after it was written.
/// A look is a stat; the flushes stay one per fragment.
const SYNC_EVERY: Duration = Duration::from_millis(250);

enum Stop {
    Cancelled,
    Disabled,
}

pub struct CameraTask {
    ctx: Arc<Ctx>,
    cam: CameraConfig,
    /// Password and other secret parts of the source, scrubbed from everything ffmpeg says.
    secrets: Vec<String>,
    live: CameraLive,
}

impl CameraTask {
    pub fn new(ctx: Arc<Ctx>, cam: CameraConfig) -> Self {
        let secrets = url_secrets(cam.source.expose());
        let state = if cam.enabled {
            CameraState::Starting
        } else {
            CameraState::Disabled
        };
        CameraTask {
            ctx,
            cam,
            secrets,
            live: CameraLive::idle(state),
        }
    }

    fn name(&self) -> &str {
        &self.cam.name
    }

    fn publish(&self) {
        self.ctx
            .health
            .set_camera(&self.cam.name, self.live.clone());
    }

    fn set_state(&mut self, state: CameraState) {
        if self.live.state != state {
            tracing::info!(camera = %self.cam.name, state = ?state, "camera state");
        }
        self.live.state = state;
        if state != CameraState::Recording {
            self.live.current_file = None;
            self.live.open_since = None;
            (
                self.live.fps,
                self.live.bitrate_kbps,
                self.live.frame_loss_percent,
            ) = (0.0, 0.0, 0.0);
        }
        self.publish();
    }

    /// Every day folder at start (`since` None), only the run's after an ffmpeg exit.
    async fn reconcile(&self, since: Option<DateTime<Utc>>) {
        if let Err(e) = recovery::reconcile(&self.ctx, &self.cam.name, since).await {
            tracing::error!(camera = %self.cam.name, error = %e, "recovery of leftover files failed");
        }
    }

    pub async fn run(mut self, mut enabled: watch::Receiver<bool>, cancel: CancellationToken) {
        self.reconcile(None).await;
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            if cancel.is_cancelled() {
                self.set_state(CameraState::Stopped);
                return;
            }
            if !*enabled.borrow_and_update() {
                self.set_state(if self.cam.enabled {
                    CameraState::Stopped
                } else {
                    CameraState::Disabled
                });
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    r = enabled.changed() => if r.is_err() { return },
                }
                continue;
            }
            // An unplugged V4L2 camera is stopped, saying why, until its node is back: no
            // restart loop, and no restarts counted for a cable pulled on purpose.
            if let Some(node) = self.v4l2_node()
                && !tokio::fs::try_exists(&node).await.unwrap_or(false)
            {
                tracing::warn!(camera = %self.cam.name, device = %node, "camera device is gone; waiting for it");
                self.live.reason = Some(format!("device {node} is gone (unplugged?)"));
                self.set_state(CameraState::Stopped);
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = wait_node(node) => {
                        tracing::info!(camera = %self.cam.name, "camera device is back");
                    }
                    _ = enabled.changed() => {}
                }
                self.live.reason = None;
                continue;
            }
            self.set_state(CameraState::Starting);
            let (started, started_at) = (Instant::now(), self.ctx.health.now());
            let outcome = self.run_once(&mut enabled, &cancel).await;
            self.ctx.set_open(self.name(), None);
            self.reconcile(Some(started_at)).await;
            match outcome {
                Ok(Stop::Cancelled) => {
                    self.set_state(CameraState::Stopped);
                    return;
                }
                Ok(Stop::Disabled) => continue,
                Err(e) => {
                    tracing::warn!(camera = %self.cam.name, error = %scrub(&e.to_string(), &self.secrets), "recording interrupted");
                    self.ctx.space_wanted.notify_one();
                }
            }
            if started.elapsed() >= HEALTHY_AFTER {
                backoff.reset();
            }
            // Unplugged while recording: the check at the top of the loop waits for it.
            if let Some(node) = self.v4l2_node()
                && !tokio::fs::try_exists(&node).await.unwrap_or(false)
            {
                continue;
            }
            let delay = backoff.next_delay();
            self.live.restarts += 1;
            self.set_state(CameraState::Backoff);
            let addr = self.tcp_address();
            let unreachable = match &addr {
                Some(a) => !reachable(a).await,
                None => false,
            };
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(delay) => {}
                _ = wait_reachable(addr.clone().unwrap_or_default()), if unreachable => {
                    tracing::info!(camera = %self.cam.name, "camera answers again");
                }
                _ = enabled.changed() => {}
            }
        }
    }

    /// Writes the private ffconcat file that keeps an RTSP password off ffmpeg's command line
    /// (`None` for sources without credentials).
    fn rtsp_list_file(&self) -> Result<Option<std::path::PathBuf>, RecorderError> {
        if self.cam.kind != SourceKind::Rtsp || self.secrets.is_empty() {
            return Ok(None);
        }
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.ctx.data_dir.cache();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.ffconcat", self.name()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(crate::media::args::rtsp_list(self.cam.source.expose()).as_bytes())?;
        Ok(Some(path))
    }

    /// `host:port` of an RTSP camera, to notice when it comes back.
    fn tcp_address(&self) -> Option<String> {
        let url = url::Url::parse(self.cam.source.expose()).ok()?;
        let port = url
            .port()
            .unwrap_or(if url.scheme() == "rtsps" { 322 } else { 554 });
        match self.cam.kind {
            SourceKind::Rtsp => Some(format!("{}:{port}", url.host_str()?)),
            _ => None,
        }
    }

    /// The device node of a V4L2 camera (`/dev/video0`).
    fn v4l2_node(&self) -> Option<String> {
        (self.cam.kind == SourceKind::V4l2).then(|| {
            self.cam
                .source
                .expose()
                .trim_start_matches("v4l2://")
                .to_string()
        })
    }

    async fn run_once(
        &mut self,
        enabled: &mut watch::Receiver<bool>,
        cancel: &CancellationToken,
    ) -> Result<Stop, RecorderError> {
        let cam_dir = self.ctx.data_dir.recordings(&self.cam.name);
        layout::ensure_day_dirs(&cam_dir, self.ctx.health.now())?;
        let kind = self.cam.kind;
        let clip = match kind {
            SourceKind::Test => self.ctx.test_clip().await?,
            _ => Default::default(),
        };
        let v4l2 = match kind {
            SourceKind::V4l2 => {
                let device = self.v4l2_node().unwrap_or_default();
                let dev = device.clone();
                let formats = tokio::task::spawn_blocking(move || v4l2::formats(&dev))
                    .await
                    .map_err(|e| RecorderError::Exited(format!("asking {device}: {e}")))??;
                let choice = v4l2::choose(&formats).ok_or_else(|| {
                    RecorderError::Exited(format!("{device} offers no format camvault can record"))
                })?;
                Some(choice)
            }
            _ => None,
        };
        let auto_encoder = self.ctx.auto_encoder().await;
        let list = self.rtsp_list_file()?;
        let spec = RecordSpec {
            rtsp_list: list.as_deref(),
            camera: &self.cam,
            camera_dir: &cam_dir,
            test_clip: &clip,
            segment_seconds: self.ctx.segment_seconds,
            fragment_seconds: self.ctx.fragment_seconds,
            auto_encoder,
            v4l2: v4l2.as_ref(),
        };
        let program = match copies_video(&spec) {
            true => self.ctx.copy_ffmpeg.as_str(),
            false => "ffmpeg",
        };
        let mut child = process::spawn(program, &record_args(&spec))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
        let t0 = Instant::now();
        let mut run = Run {
            stats: Stats::default(),
            anchor: None,
            current: None,
            synced: None,
            closed_bytes: 0,
            last_error: String::new(),
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut sync_tick = tokio::time::interval(SYNC_EVERY);
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut out_open, mut err_open) = (true, true);

        let stop = loop {
            tokio::select! {
                _ = cancel.cancelled() => break Some(Stop::Cancelled),
                r = enabled.changed() => if r.is_err() || !*enabled.borrow() { break Some(Stop::Disabled) },
                line = stdout.next_line(), if out_open => match line {
                    Ok(Some(l)) => if let Some(seg) = parse_segment_line(&l) {
                        self.segment_closed(&mut run, seg).await?;
                    },
                    _ => out_open = false,
                },
                line = stderr.next_line(), if err_open => match line {
                    Ok(Some(l)) => self.stderr_line(&mut run, &l, t0.elapsed()),
                    _ => err_open = false,
                },
                _ = sync_tick.tick() => sync_open(&mut run).await,
                _ = tick.tick() => {
                    let since = run.stats.last_advance.map_or(t0.elapsed(), |at| t0.elapsed().saturating_sub(at));
                    let limit = if run.stats.last_advance.is_some() { STALL_AFTER } else { START_TIMEOUT };
                    if since >= limit {
                        process::stop(&mut child, STOP_TIMEOUT).await;
                        self.drain(&mut run, &mut stdout).await?;
                        return Err(RecorderError::Stalled(since.as_secs()));
                    }
                    if self.live.state == CameraState::Recording {
                        let f = run.stats.figures();
                        (self.live.fps, self.live.bitrate_kbps, self.live.frame_loss_percent) = (f.fps, f.bitrate_kbps, f.frame_loss_percent);
                        self.publish();
                    }
                }
            }
            if !out_open && !err_open {
                break None;
            }
        };
        match stop {
            Some(stop) => {
                process::stop(&mut child, STOP_TIMEOUT).await;
                self.drain(&mut run, &mut stdout).await?;
                Ok(stop)
            }
            None => {
                let status = process::stop(&mut child, STOP_TIMEOUT).await;
                let what = status.map_or("unknown status".to_string(), |s| s.to_string());
                let detail = if run.last_error.is_empty() {
                    what
                } else {
                    format!("{what}: {}", run.last_error)
                };
                Err(RecorderError::Exited(detail))
            }
        }
    }

    /// Registers the segments ffmpeg reported while it was being stopped.
    async fn drain(
        &mut self,
        run: &mut Run,
        stdout: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    ) -> Result<(), RecorderError> {
        while let Ok(Ok(Some(l))) =
            tokio::time::timeout(Duration::from_secs(1), stdout.next_line()).await
        {
            if let Some(seg) = parse_segment_line(&l) {
                self.segment_closed(run, seg).await?;
            }
        }
        Ok(())
    }

    fn stderr_line(&mut self, run: &mut Run, line: &str, now: Duration) {
        match parse_line(line) {
            StderrLine::Progress { key, value } => {
                let bytes = run.closed_bytes
                    + run
                        .current
                        .as_ref()
                        .and_then(|p| std::fs::metadata(p).ok())
                        .map_or(0, |m| m.len());
                if run.stats.progress(&key, &value, now, bytes)
                    && self.live.state != CameraState::Recording
                {
                    self.set_state(CameraState::Recording);
                }
            }
            StderrLine::InputFps(fps) => run.stats.set_nominal_fps(fps),
            StderrLine::SegmentOpened(path) => {
                self.ctx.set_open(self.name(), Some(path.clone().into()));
                self.live.current_file = std::path::Path::new(&path)
                    .strip_prefix(self.ctx.data_dir.root())
                    .ok()
                    .map(|p| p.display().to_string());
                self.live.open_since = std::path::Path::new(&path)
                    .file_name()
                    .and_then(|f| layout::parse_name(self.name(), &f.to_string_lossy()));
                self.publish();
                run.current = Some(path.into());
            }
            StderrLine::Log { level, text } => {
                let text = scrub(&text, &self.secrets);
                match level {
                    LogLevel::Error => {
                        tracing::warn!(camera = %self.cam.name, "ffmpeg: {text}");
                        run.last_error = text;
                    }
                    LogLevel::Warning => tracing::debug!(camera = %self.cam.name, "ffmpeg: {text}"),
                    LogLevel::Info => tracing::trace!(camera = %self.cam.name, "ffmpeg: {text}"),
                }
            }
        }
    }

    /// The `OnSegmentComplete` hook: fsync, record, then announce.
    async fn segment_closed(
        &mut self,
        run: &mut Run,
        seg: ListedSegment,
    ) -> Result<(), RecorderError> {
        let Some(named) = layout::parse_name(self.name(), &seg.file) else {
            tracing::warn!(camera = %self.cam.name, file = %seg.file, "ffmpeg reported a segment with an unexpected name");
            return Ok(());
        };
        let rel = relative_path(self.name(), &seg.file, named);
        let path = self.ctx.data_dir.join(&rel);
        let p = path.clone();
        let bytes = tokio::task::spawn_blocking(move || fsync_file_and_dir(&p))
            .await
            .map_err(|_| RecorderError::Cancelled)??;
        run.closed_bytes += bytes;
        // Stream time maps to wall time through the moment the first segment closed.
        let now = self.ctx.health.now();
        let anchor = *run.anchor.get_or_insert_with(|| now - secs(seg.end_s));
        let start = anchor + secs(seg.start_s);
        let end = anchor + secs(seg.end_s);
        let duration_ms = ((seg.end_s - seg.start_s) * 1000.0).round() as i64;
        let closed = SegmentEnd {
            end,
            duration_ms,
            bytes: bytes as i64,
            state: SegmentState::Closed,
        };
        let (cam, rel2) = (self.cam.name.clone(), rel.clone());
        let id = self
            .ctx
            .store
            .write(move |db| db.insert_closed_segment(&cam, &rel2, &closed, start))
            .await?;
        self.ctx.store.durable().await?;
        tracing::debug!(camera = %self.cam.name, path = %rel, duration_ms, bytes, "segment closed");
        self.ctx.announce(SegmentEvent {
            id,
            camera: self.cam.name.clone(),
            path: rel,
            start,
            end,
            bytes: bytes as i64,
        });
        // Midnight comes: the next day's folder must exist before ffmpeg opens a file in it.
        layout::ensure_day_dirs(&self.ctx.data_dir.recordings(&self.cam.name), now)?;
        Ok(())
    }
}

struct Run {
    stats: Stats,
    anchor: Option<DateTime<Utc>>,
    current: Option<std::path::PathBuf>,
    /// The open segment and how many of its bytes are known to be on the card.
    synced: Option<(std::path::PathBuf, u64)>,
    closed_bytes: u64,
    last_error: String,
}

/// A power cut drops the page cache, and with it whatever ffmpeg wrote that the kernel has
/// not yet written back (up to half a minute of it). Flushing the open segment soon after it
/// grows bounds the loss to the fragment being written plus [`SYNC_EVERY`].
async fn sync_open(run: &mut Run) {
    let Some(path) = run.current.clone() else {
        return;
    };
    let (with_dir, synced) = match &run.synced {
        Some((p, n)) if *p == path => (false, *n),
        _ => (true, 0),
    };
    let p = path.clone();
    match tokio::task::spawn_blocking(move || sync_growing(&p, synced, with_dir)).await {
        Ok(Ok(len)) => run.synced = Some((path, len)),
        // Closed and renamed meanwhile, or not created yet: the close path syncs it.
        Ok(Err(e)) => {
            tracing::debug!(file = %path.display(), error = %e, "flushing the open segment")
        }
        Err(_) => {}
    }
}

fn secs(s: f64) -> CDuration {
    CDuration::microseconds((s * 1e6).round() as i64)
}

async fn reachable(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

async fn wait_node(node: String) {
    while !tokio::fs::try_exists(&node).await.unwrap_or(false) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn wait_reachable(addr: String) {
    loop {
        if reachable(&addr).await {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
