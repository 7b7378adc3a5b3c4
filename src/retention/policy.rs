//! The retention rules as plain logic: given the files on disk, the clock and the disk's
//! fill, which files go and why, and whether recording must pause. No I/O here.

use chrono::{DateTime, Duration, Utc};

use crate::config::{OnDiskFull, RetentionConfig};
use crate::store::{DeleteReason, JobState, MediaKind, StoredFile};

/// Where a file stands with the uploader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// Uploaded and verified at this moment.
    Done(DateTime<Utc>),
    /// Queued, in flight, failed, or not queued yet: the only copy is local.
    Awaiting,
    /// No destination is configured: local files are all there will ever be.
    NotExpected,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub kind: MediaKind,
    pub end: DateTime<Utc>,
    pub bytes: u64,
    pub upload: Upload,
}

impl Item {
    pub fn from_stored(f: &StoredFile, uploads_enabled: bool) -> Item {
        let upload = match (f.job, f.uploaded) {
            (Some(JobState::Done), Some(at)) => Upload::Done(at),
            _ if uploads_enabled => Upload::Awaiting,
            // A destination was configured once and removed since: what was uploaded counts
            // as uploaded; the rest is local-only like everything else.
            _ => Upload::NotExpected,
        };
        Item {
            id: f.id,
            kind: f.kind,
            end: f.end,
            bytes: f.bytes,
            upload,
        }
    }

    fn uploaded(&self) -> bool {
        matches!(self.upload, Upload::Done(_))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Disk {
    pub total: u64,
    pub used: u64,
}

impl Disk {
    fn percent(&self, used: u64) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / self.total as f64
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub keep_uploaded: Duration,
    pub recordings: Duration,
    pub snapshots: Duration,
    pub clips: Duration,
    pub warn_percent: f64,
    pub critical_percent: f64,
    pub on_full: OnDiskFull,
}

impl Rules {
    pub fn from_config(c: &RetentionConfig) -> Rules {
        Rules {
            keep_uploaded: Duration::hours(i64::from(c.keep_uploaded_hours)),
            recordings: Duration::days(i64::from(c.recordings_days())),
            snapshots: Duration::days(i64::from(c.snapshots_days)),
            clips: Duration::days(i64::from(c.clips_days)),
            warn_percent: f64::from(c.disk_warn_percent),
            critical_percent: f64::from(c.disk_critical_percent),
            on_full: c.on_disk_full,
        }
    }

    fn max_age(&self, kind: MediaKind) -> Duration {
        match kind {
            MediaKind::Continuous => self.recordings,
            MediaKind::Clip => self.clips,
            MediaKind::Snapshot => self.snapshots,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In the order to delete.
    pub delete: Vec<(i64, DeleteReason)>,
    /// `stop-recording` and the disk stays critical: recording must (stay) paused.
    pub pause_recording: bool,
    /// Percent used once the deletions are done.
    pub used_percent_after: f64,
}

/// The ordinary rules, which never touch footage that awaits upload.
fn routine(item: &Item, now: DateTime<Utc>, rules: &Rules) -> Option<DeleteReason> {
    let too_old = now - item.end >= rules.max_age(item.kind);
    match item.upload {
        Upload::Done(at) if now - at >= rules.keep_uploaded => Some(DeleteReason::Uploaded),
        Upload::Done(_) | Upload::NotExpected if too_old => Some(DeleteReason::Age),
        _ => None,
    }
}

/// The eviction classes, in order: (kind, uploaded?, allowed only with delete-oldest).
const EVICTION_ORDER: &[(MediaKind, bool, bool)] = &[
    (MediaKind::Continuous, true, false),
    (MediaKind::Snapshot, true, false),
    (MediaKind::Continuous, false, true),
    (MediaKind::Snapshot, false, true),
    (MediaKind::Clip, true, false),
    (MediaKind::Clip, false, true),
];

/// Decides. `items` may come in any order; `paused` says whether recording is paused now
/// (it resumes only once usage is back under the warn mark).
pub fn plan(
    items: &[Item],
    now: DateTime<Utc>,
    disk: Option<Disk>,
    rules: &Rules,
    paused: bool,
) -> Plan {
    let mut order: Vec<&Item> = items.iter().collect();
    order.sort_by_key(|i| (i.end, i.id));
    let mut out = Plan::default();
    let mut freed = 0u64;
    let mut gone = std::collections::HashSet::new();
    for item in &order {
        if let Some(reason) = routine(item, now, rules) {
            out.delete.push((item.id, reason));
            freed += item.bytes;
            gone.insert(item.id);
        }
    }
    let Some(disk) = disk else {
        return out;
    };
    let used = |freed: u64| disk.used.saturating_sub(freed);
    if disk.percent(used(freed)) > rules.critical_percent {
        'evict: for &(kind, uploaded, needs_delete_oldest) in EVICTION_ORDER {
            if needs_delete_oldest && rules.on_full != OnDiskFull::DeleteOldest {
                continue;
            }
            for item in order
                .iter()
                .filter(|i| i.kind == kind && i.uploaded() == uploaded && !gone.contains(&i.id))
            {
                if disk.percent(used(freed)) < rules.warn_percent {
                    break 'evict;
                }
                let reason = if uploaded {
                    DeleteReason::Evicted
                } else {
                    DeleteReason::DataLoss
                };
                // Each item is in one class only: no need to note it as gone.
                out.delete.push((item.id, reason));
                freed += item.bytes;
            }
        }
    }
    out.used_percent_after = disk.percent(used(freed));
    if rules.on_full == OnDiskFull::StopRecording {
        out.pause_recording = if paused {
            out.used_percent_after >= rules.warn_percent
        } else {
            out.used_percent_after > rules.critical_percent
        };
    }
    out
}

#[cfg(test)]
mod tests;
