//! The commit gate after booting an update, as plain state (no I/O): the new slot is kept only
//! when the device does its job again, judged against what it did before the update. The
//! baseline is written to `data` before the reboot; the daemon feeds the gate what it sees and
//! asks for a verdict until it commits or the timeout rolls it back.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the device did before the update: each of these must work again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub from_version: String,
    pub to_version: String,
    /// The bundle's security epoch, recorded as the highest once the update commits.
    pub epoch: u32,
    /// Cameras that were recording.
    pub cameras: BTreeSet<String>,
    /// MQTT was connected.
    pub mqtt: bool,
    /// Uploads were working (one had been verified in the last day).
    pub uploads: bool,
}

/// One thing the gate waits for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "check", content = "camera", rename_all = "snake_case")]
pub enum Check {
    /// The store opened and took a write.
    Store,
    /// The camera closed a new segment (closed segments have been probed as playable).
    Camera(String),
    /// MQTT connected and `availability` is online.
    Mqtt,
    /// An upload was verified.
    Upload,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Store => f.write_str("the store did not take a write"),
            Check::Camera(c) => write!(f, "camera {c} closed no playable segment"),
            Check::Mqtt => f.write_str("MQTT did not connect"),
            Check::Upload => f.write_str("no upload was verified"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Waiting(Vec<Check>),
    Commit,
    /// The checks still failing when time ran out.
    RollBack(Vec<Check>),
}

#[derive(Debug, Clone)]
pub struct Gate {
    needed: BTreeSet<Check>,
    deadline: DateTime<Utc>,
}

impl Gate {
    pub fn new(baseline: &Baseline, booted: DateTime<Utc>, timeout: chrono::Duration) -> Gate {
        let mut needed: BTreeSet<Check> = baseline
            .cameras
            .iter()
            .map(|c| Check::Camera(c.clone()))
            .collect();
        needed.insert(Check::Store);
        if baseline.mqtt {
            needed.insert(Check::Mqtt);
        }
        if baseline.uploads {
            needed.insert(Check::Upload);
        }
        Gate {
            needed,
            deadline: booted + timeout,
        }
    }

    /// Something the daemon saw passes one check (or none: a camera not in the baseline).
    pub fn passed(&mut self, check: &Check) {
        self.needed.remove(check);
    }

    pub fn verdict(&self, now: DateTime<Utc>) -> Verdict {
        let open: Vec<Check> = self.needed.iter().cloned().collect();
        if open.is_empty() {
            Verdict::Commit
        } else if now >= self.deadline {
            Verdict::RollBack(open)
        } else {
            Verdict::Waiting(open)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + chrono::Duration::seconds(s)
    }

    fn baseline(mqtt: bool, uploads: bool) -> Baseline {
        Baseline {
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
            epoch: 1,
            cameras: ["front".to_string(), "yard".to_string()].into(),
            mqtt,
            uploads,
        }
    }

    #[test]
    fn commits_once_every_baseline_check_passed() {
        let mut g = Gate::new(&baseline(true, true), t(0), chrono::Duration::minutes(10));
        assert_eq!(
            g.verdict(t(1)),
            Verdict::Waiting(vec![
                Check::Store,
                Check::Camera("front".into()),
                Check::Camera("yard".into()),
                Check::Mqtt,
                Check::Upload,
            ])
        );
        for c in [
            Check::Store,
            Check::Camera("front".into()),
            Check::Camera("elsewhere".into()),
            Check::Camera("yard".into()),
            Check::Mqtt,
        ] {
            g.passed(&c);
        }
        assert_eq!(g.verdict(t(30)), Verdict::Waiting(vec![Check::Upload]));
        g.passed(&Check::Upload);
        assert_eq!(g.verdict(t(40)), Verdict::Commit);
    }

    #[test]
    fn what_did_not_work_before_is_not_asked_for() {
        let mut g = Gate::new(&baseline(false, false), t(0), chrono::Duration::minutes(10));
        for c in ["front", "yard"] {
            g.passed(&Check::Camera(c.into()));
        }
        g.passed(&Check::Store);
        assert_eq!(g.verdict(t(5)), Verdict::Commit);
    }

    #[test]
    fn time_out_rolls_back_naming_what_failed() {
        let mut g = Gate::new(&baseline(true, false), t(0), chrono::Duration::minutes(10));
        g.passed(&Check::Store);
        g.passed(&Check::Mqtt);
        g.passed(&Check::Camera("front".into()));
        assert!(matches!(g.verdict(t(599)), Verdict::Waiting(_)));
        let Verdict::RollBack(failed) = g.verdict(t(600)) else {
            panic!()
        };
        assert_eq!(failed, vec![Check::Camera("yard".into())]);
        assert_eq!(
            failed[0].to_string(),
            "camera yard closed no playable segment"
        );
    }
}
