//! Alerts with hysteresis, as plain logic: feed observations, get raised and cleared alerts.
//! An alert is raised when its condition holds and cleared only when it has clearly gone
//! (below the threshold by a margin, or after the camera records again), so a value hovering
//! at a threshold does not flap.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

/// What an alert is about; the wire name is the snake_case code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCode {
    DiskWarn,
    DiskCritical,
    ClockUnsynced,
    UploadStalled,
    RecordingStopped,
    FrameLoss,
    UploadFailed,
    /// The config the user put on the card was refused; the device runs on its last good one.
    ConfigRejected,
}

impl AlertCode {
    pub const ALL: [AlertCode; 8] = [
        AlertCode::DiskWarn,
        AlertCode::DiskCritical,
        AlertCode::ClockUnsynced,
        AlertCode::UploadStalled,
        AlertCode::RecordingStopped,
        AlertCode::FrameLoss,
        AlertCode::UploadFailed,
        AlertCode::ConfigRejected,
    ];

    /// How Home Assistant names its problem sensor.
    pub fn title(self) -> &'static str {
        match self {
            AlertCode::DiskWarn => "Disk nearly full",
            AlertCode::DiskCritical => "Disk full",
            AlertCode::ClockUnsynced => "Clock unsynced",
            AlertCode::UploadStalled => "Uploads stalled",
            AlertCode::RecordingStopped => "Recording stopped",
            AlertCode::FrameLoss => "Frame loss",
            AlertCode::UploadFailed => "Upload failed",
            AlertCode::ConfigRejected => "Config rejected",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertCode::DiskWarn => "disk_warn",
            AlertCode::DiskCritical => "disk_critical",
            AlertCode::ClockUnsynced => "clock_unsynced",
            AlertCode::UploadStalled => "upload_stalled",
            AlertCode::RecordingStopped => "recording_stopped",
            AlertCode::FrameLoss => "frame_loss",
            AlertCode::UploadFailed => "upload_failed",
            AlertCode::ConfigRejected => "config_rejected",
        }
    }
}

impl std::fmt::Display for AlertCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub code: AlertCode,
    pub severity: Severity,
    pub message: String,
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Raised(Alert),
    Cleared(Alert),
}

/// One look at the device.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub disk_used_percent: Option<f64>,
    /// Server time minus ours, as the uploader learned it.
    pub clock_offset_s: i64,
    /// Uploads waiting, and how long since the uploader last finished one (or started).
    pub uploads_waiting: bool,
    pub since_upload_progress_s: i64,
    /// Upload jobs that failed for good (until `upload retry-failed`).
    pub uploads_failed: i64,
    /// Per camera that should be recording: (is it recording, frame loss % now).
    pub cameras: BTreeMap<String, (bool, f64)>,
    /// Why the config on the card was refused at boot (`check-config`'s message), if it was.
    pub config_rejected: Option<String>,
}

pub struct Thresholds {
    pub disk_warn: f64,
    pub disk_critical: f64,
}

/// Points below a disk threshold before its alert clears.
const DISK_MARGIN: f64 = 2.0;
/// An enabled camera not recording this long raises `recording_stopped`.
const NOT_RECORDING_FOR: i64 = 30;
/// Seconds off before `clock_unsynced` (cleared a minute inside it).
const CLOCK_OFF: i64 = 300;
/// Seconds without a finished upload, while some wait, before `upload_stalled`.
const UPLOAD_STALLED: i64 = 600;
/// Frame loss is averaged over this window; raised over 1 %, cleared under 0.5 %.
const LOSS_WINDOW: i64 = 300;

#[derive(Default)]
pub struct Alerts {
    active: BTreeMap<(AlertCode, Option<String>), Alert>,
    not_recording_since: BTreeMap<String, DateTime<Utc>>,
    loss: BTreeMap<String, VecDeque<(DateTime<Utc>, f64)>>,
}

impl Alerts {
    pub fn active(&self) -> Vec<Alert> {
        self.active.values().cloned().collect()
    }

    pub fn observe(
        &mut self,
        obs: &Observation,
        th: &Thresholds,
        now: DateTime<Utc>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(used) = obs.disk_used_percent {
            let msg = |what: &str, t: f64| {
                format!("disk {used:.1} % used, over the {what} threshold of {t} %")
            };
            self.set(
                &mut changes,
                AlertCode::DiskCritical,
                None,
                Severity::Critical,
                now,
                used >= th.disk_critical,
                used < th.disk_critical - DISK_MARGIN,
                msg("critical", th.disk_critical),
            );
            self.set(
                &mut changes,
                AlertCode::DiskWarn,
                None,
                Severity::Warning,
                now,
                used >= th.disk_warn,
                used < th.disk_warn - DISK_MARGIN,
                msg("warning", th.disk_warn),
            );
        }
        let off = obs.clock_offset_s.abs();
        let msg = format!(
            "the clock is {off} s off the storage server's; recordings are named by our clock"
        );
        self.set(
            &mut changes,
            AlertCode::ClockUnsynced,
            None,
            Severity::Warning,
            now,
            off > CLOCK_OFF,
            off < CLOCK_OFF - 60,
            msg,
        );
        let stalled = obs.uploads_waiting && obs.since_upload_progress_s > UPLOAD_STALLED;
        let msg = format!(
            "uploads are waiting and none has finished for {} min",
            obs.since_upload_progress_s / 60
        );
        self.set(
            &mut changes,
            AlertCode::UploadStalled,
            None,
            Severity::Warning,
            now,
            stalled,
            !stalled,
            msg,
        );
        self.set(
            &mut changes,
            AlertCode::ConfigRejected,
            None,
            Severity::Warning,
            now,
            obs.config_rejected.is_some(),
            obs.config_rejected.is_none(),
            format!(
                "the camvault.toml on the boot partition was refused, running on the last good \
                 config: {}",
                obs.config_rejected.as_deref().unwrap_or_default()
            ),
        );
        let failed = obs.uploads_failed;
        self.set(
            &mut changes,
            AlertCode::UploadFailed,
            None,
            Severity::Critical,
            now,
            failed > 0,
            failed == 0,
            format!(
                "{failed} uploads failed for good; see `camvault queue`, then `upload retry-failed`"
            ),
        );
        for (cam, &(recording, loss)) in &obs.cameras {
            let since = if recording {
                self.not_recording_since.remove(cam);
                None
            } else {
                Some(*self.not_recording_since.entry(cam.clone()).or_insert(now))
            };
            let stopped = since.is_some_and(|s| now - s > Duration::seconds(NOT_RECORDING_FOR));
            let msg = format!("camera {cam} has not recorded for over {NOT_RECORDING_FOR} s");
            self.set(
                &mut changes,
                AlertCode::RecordingStopped,
                Some(cam),
                Severity::Critical,
                now,
                stopped,
                recording,
                msg,
            );

            let window = self.loss.entry(cam.clone()).or_default();
            if recording {
                window.push_back((now, loss));
            }
            while window
                .front()
                .is_some_and(|(t, _)| now - *t > Duration::seconds(LOSS_WINDOW))
            {
                window.pop_front();
            }
            let avg = if window.is_empty() {
                0.0
            } else {
                window.iter().map(|(_, l)| l).sum::<f64>() / window.len() as f64
            };
            let msg = format!("camera {cam} lost {avg:.1} % of its frames over 5 minutes");
            self.set(
                &mut changes,
                AlertCode::FrameLoss,
                Some(cam),
                Severity::Warning,
                now,
                avg > 1.0,
                avg < 0.5,
                msg,
            );
        }
        // Cameras no longer observed (removed or disabled) have no alerts.
        let cams: Vec<String> = obs.cameras.keys().cloned().collect();
        let gone: Vec<_> = self
            .active
            .keys()
            .filter(|(_, c)| c.as_ref().is_some_and(|c| !cams.contains(c)))
            .cloned()
            .collect();
        for key in gone {
            if let Some(a) = self.active.remove(&key) {
                changes.push(Change::Cleared(a));
            }
        }
        changes
    }

    #[allow(clippy::too_many_arguments)]
    fn set(
        &mut self,
        changes: &mut Vec<Change>,
        code: AlertCode,
        camera: Option<&String>,
        severity: Severity,
        now: DateTime<Utc>,
        raise: bool,
        clear: bool,
        message: String,
    ) {
        let key = (code, camera.cloned());
        if raise && !self.active.contains_key(&key) {
            let alert = Alert {
                code,
                severity,
                message,
                since: now,
                camera: camera.cloned(),
            };
            self.active.insert(key, alert.clone());
            changes.push(Change::Raised(alert));
        } else if clear && let Some(alert) = self.active.remove(&key) {
            changes.push(Change::Cleared(alert));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn codes(c: &[Change]) -> Vec<String> {
        c.iter()
            .map(|c| match c {
                Change::Raised(a) => format!("+{}", a.code),
                Change::Cleared(a) => format!("-{}", a.code),
            })
            .collect()
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            disk_warn: 80.0,
            disk_critical: 90.0,
        }
    }

    #[test]
    fn clock_and_upload_alerts() {
        let th = thresholds();
        let mut a = Alerts::default();
        let o = |off: i64, waiting: bool, since: i64| Observation {
            clock_offset_s: off,
            uploads_waiting: waiting,
            since_upload_progress_s: since,
            ..Default::default()
        };
        assert_eq!(
            codes(&a.observe(&o(-3600, false, 0), &th, t(0))),
            ["+clock_unsynced"]
        );
        assert!(
            a.observe(&o(290, false, 0), &th, t(1)).is_empty(),
            "inside the margin"
        );
        assert_eq!(
            codes(&a.observe(&o(10, true, 601), &th, t(2))),
            ["-clock_unsynced", "+upload_stalled"]
        );
        assert_eq!(
            codes(&a.observe(&o(10, true, 5), &th, t(3))),
            ["-upload_stalled"]
        );
    }

    #[test]
    fn a_refused_card_config_is_an_alert_with_the_reason() {
        let th = thresholds();
        let mut a = Alerts::default();
        let why = "camvault.toml:3:1: recording.segment_seconds: must be 2-3600";
        let o = Observation {
            config_rejected: Some(why.into()),
            ..Default::default()
        };
        let changes = a.observe(&o, &th, t(0));
        assert_eq!(codes(&changes), ["+config_rejected"]);
        let Change::Raised(alert) = &changes[0] else {
            panic!()
        };
        assert!(alert.message.ends_with(why), "{}", alert.message);
        assert!(a.observe(&o, &th, t(1)).is_empty());
        assert_eq!(
            codes(&a.observe(&Observation::default(), &th, t(2))),
            ["-config_rejected"]
        );
    }

    #[test]
    fn disk_alerts_have_hysteresis() {
        let th = thresholds();
        let mut a = Alerts::default();
        let disk = |p| Observation {
            disk_used_percent: Some(p),
            ..Default::default()
        };
        assert!(a.observe(&disk(50.0), &th, t(0)).is_empty());
        assert_eq!(codes(&a.observe(&disk(80.0), &th, t(1))), ["+disk_warn"]);
        assert!(
            a.observe(&disk(79.0), &th, t(2)).is_empty(),
            "inside the margin: stays raised"
        );
        assert_eq!(
            codes(&a.observe(&disk(91.0), &th, t(3))),
            ["+disk_critical"]
        );
        assert_eq!(
            codes(&a.observe(&disk(70.0), &th, t(4))),
            ["-disk_critical", "-disk_warn"]
        );
    }

    #[test]
    fn recording_stopped_after_30_seconds_and_frame_loss_over_5_minutes() {
        let th = thresholds();
        let mut a = Alerts::default();
        let cam = |rec: bool, loss: f64| Observation {
            cameras: [("front".to_string(), (rec, loss))].into(),
            ..Default::default()
        };
        assert!(a.observe(&cam(false, 0.0), &th, t(0)).is_empty());
        assert!(a.observe(&cam(false, 0.0), &th, t(30)).is_empty());
        assert_eq!(
            codes(&a.observe(&cam(false, 0.0), &th, t(31))),
            ["+recording_stopped"]
        );
        assert_eq!(
            codes(&a.observe(&cam(true, 0.0), &th, t(40))),
            ["-recording_stopped"]
        );
        // 3 % loss for a while: the 5-minute average crosses 1 %.
        let mut raised = Vec::new();
        for s in (45..400).step_by(5) {
            raised.extend(codes(&a.observe(&cam(true, 3.0), &th, t(s))));
        }
        assert_eq!(raised, ["+frame_loss"]);
        let mut cleared = Vec::new();
        for s in (400..800).step_by(5) {
            cleared.extend(codes(&a.observe(&cam(true, 0.0), &th, t(s))));
        }
        assert_eq!(cleared, ["-frame_loss"]);
        assert_eq!(a.active().len(), 0);
        // A camera leaving the observation takes its alerts with it.
        a.observe(&cam(false, 0.0), &th, t(900));
        a.observe(&cam(false, 0.0), &th, t(940));
        assert_eq!(a.active().len(), 1);
        assert_eq!(
            codes(&a.observe(&Observation::default(), &th, t(950))),
            ["-recording_stopped"]
        );
    }
}
