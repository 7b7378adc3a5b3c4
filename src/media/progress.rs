//! ffmpeg's stderr, line by line: `-progress` key=value blocks, the input's nominal frame rate,
//! segment openings, and log lines (which may quote the camera URL, so callers redact them).

use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum StderrLine {
    /// One `key=value` of a progress block.
    Progress { key: String, value: String },
    /// `Stream #0:0: Video: h264 …, 25 fps, …` of the input.
    InputFps(f64),
    /// `Opening '/…/front_….mp4' for writing`.
    SegmentOpened(String),
    /// Anything else, with ffmpeg's level when it gave one.
    Log { level: LogLevel, text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warning,
    Info,
}

pub fn parse_line(line: &str) -> StderrLine {
    let line = line.trim_end();
    if let Some((key, value)) = line.split_once('=')
        && !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return StderrLine::Progress {
            key: key.into(),
            value: value.trim().into(),
        };
    }
    if let Some(start) = line.find("Opening '")
        && let Some(len) = line[start + 9..].find("' for writing")
    {
        let path = &line[start + 9..start + 9 + len];
        if path.ends_with(".mp4") {
            return StderrLine::SegmentOpened(path.to_string());
        }
    }
    if line.contains("Stream #0:") && line.contains(": Video:") {
        let fps = line.split(", ").find_map(|part| {
            part.strip_suffix(" fps")
                .and_then(|n| n.trim().parse().ok())
        });
        if let Some(fps) = fps {
            return StderrLine::InputFps(fps);
        }
    }
    let level = if line.contains("[error]") || line.contains("[fatal]") || line.contains("[panic]")
    {
        LogLevel::Error
    } else if line.contains("[warning]") {
        LogLevel::Warning
    } else {
        LogLevel::Info
    };
    StderrLine::Log {
        level,
        text: line.to_string(),
    }
}

/// Live figures for one camera, from progress blocks, over a sliding window.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    nominal_fps: Option<f64>,
    /// (seconds since start, frames, bytes written so far) per progress block.
    samples: VecDeque<(f64, u64, u64)>,
    frame: u64,
    out_time_us: i64,
    advanced: bool,
    pub last_advance: Option<Duration>,
}

/// The window fps, bitrate and frame loss are computed over.
const WINDOW_S: f64 = 10.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub frame_loss_percent: f64,
}

impl Stats {
    pub fn set_nominal_fps(&mut self, fps: f64) {
        if fps > 0.0 && fps < 1000.0 {
            self.nominal_fps = Some(fps);
        }
    }

    /// Feeds one progress key; `progress=…` closes a block, sampled at `now` (time since the
    /// ffmpeg started) with `bytes` written so far. Returns true when the stream advanced.
    pub fn progress(&mut self, key: &str, value: &str, now: Duration, bytes: u64) -> bool {
        match key {
            "frame" => self.frame = value.parse().unwrap_or(self.frame),
            "out_time_us" => {
                if let Ok(t) = value.parse::<i64>()
                    && t > self.out_time_us
                {
                    self.out_time_us = t;
                    self.last_advance = Some(now);
                    self.advanced = true;
                }
            }
            "progress" => {
                let t = now.as_secs_f64();
                self.samples.push_back((t, self.frame, bytes));
                while self.samples.len() > 2
                    && self.samples.front().is_some_and(|s| t - s.0 > WINDOW_S)
                {
                    self.samples.pop_front();
                }
                return std::mem::take(&mut self.advanced);
            }
            _ => {}
        }
        false
    }

    pub fn figures(&self) -> Figures {
        let (Some(a), Some(b)) = (self.samples.front(), self.samples.back()) else {
            return Figures::default();
        };
        let dt = b.0 - a.0;
        if dt < 0.5 {
            return Figures::default();
        }
        let fps = (b.1.saturating_sub(a.1)) as f64 / dt;
        let bitrate_kbps = (b.2.saturating_sub(a.2)) as f64 * 8.0 / 1000.0 / dt;
        let frame_loss_percent = match self.nominal_fps {
            Some(n) => ((1.0 - fps / n) * 100.0).clamp(0.0, 100.0),
            None => 0.0,
        };
        let round = |x: f64| (x * 10.0).round() / 10.0;
        Figures {
            fps: round(fps),
            bitrate_kbps: round(bitrate_kbps),
            frame_loss_percent: round(frame_loss_percent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines() {
        assert_eq!(
            parse_line("frame=621"),
            StderrLine::Progress {
                key: "frame".into(),
                value: "621".into()
            }
        );
        assert_eq!(
            parse_line("out_time_us=24853354\n"),
            StderrLine::Progress {
                key: "out_time_us".into(),
                value: "24853354".into()
            }
        );
        assert_eq!(
            parse_line(
                "[segment @ 0x55] [info] Opening '/d/rec/front/2026-11-21/front_2026-11-21_23-06-41.mp4' for writing"
            ),
            StderrLine::SegmentOpened(
                "/d/rec/front/2026-11-21/front_2026-11-21_23-06-41.mp4".into()
            )
        );
        assert_eq!(
            parse_line("[segment @ 0x55] [info] Opening 'pipe:1' for writing").clone(),
            StderrLine::Log {
                level: LogLevel::Info,
                text: "[segment @ 0x55] [info] Opening 'pipe:1' for writing".into()
            }
        );
        assert_eq!(
            parse_line(
                "[info]   Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(tv, smpte170m, progressive), 640x360 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 90k tbn"
            ),
            StderrLine::InputFps(25.0)
        );
        assert!(matches!(
            parse_line(
                "[tcp @ 0x1] [error] Connection to tcp://127.0.0.1:1 failed: Connection refused"
            ),
            StderrLine::Log {
                level: LogLevel::Error,
                ..
            }
        ));
        assert!(matches!(
            parse_line("[rtsp @ 0x1] [warning] max delay reached. need to consume packet"),
            StderrLine::Log {
                level: LogLevel::Warning,
                ..
            }
        ));
    }

    #[test]
    fn figures_over_the_window() {
        let mut s = Stats::default();
        s.set_nominal_fps(25.0);
        for i in 0..=20u64 {
            let now = Duration::from_secs(i);
            // 20 frames a second of a nominal 25: 20 % loss; 125 kB/s: 1000 kbit/s.
            s.progress("frame", &(i * 20).to_string(), now, 0);
            s.progress("out_time_us", &(i * 1_000_000).to_string(), now, 0);
            assert_eq!(s.progress("progress", "continue", now, i * 125_000), i > 0);
        }
        let f = s.figures();
        assert_eq!(
            f,
            Figures {
                fps: 20.0,
                bitrate_kbps: 1000.0,
                frame_loss_percent: 20.0
            }
        );
        // The stream stops advancing: last_advance stays put.
        s.progress("out_time_us", "20000000", Duration::from_secs(25), 0);
        assert!(!s.progress("progress", "continue", Duration::from_secs(25), 0));
        assert_eq!(s.last_advance, Some(Duration::from_secs(20)));
    }
}
