//! Seed 003's selection rules as plain logic, apart from the folder and ffmpeg:
//! - only video files (mp4, mov, mkv, ts, flv) are considered;
//! - a file must be `min_file_age` old, unless the FTP server saw its upload finish;
//! - the newest file is held back (it may still be written) unless its upload is known done
//!   or it has not changed for `NEWEST_QUIET` × `min_file_age` (after a restart, when the
//!   FTP server's word is gone, the last clip of the night must not wait for the next one);
//! - never back in time: files up to the last one sent are deleted;
//! - catching up after a stop: files starting `max_lag` or more before the newest file are
//!   deleted (seed 003's worked example: the 10:45 restart drops 10:31–10:40, sends 10:41);
//! - of the rest, the oldest is sent first.
//!
//! Order is by the timestamp a name carries (`…20260122_103000…`, `…2026-01-22_10-30-00…`,
//! `…10-30…`), else by mtime; ties by name.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// The newest file is taken as finished once unchanged for this many `min_file_age`s.
pub const NEWEST_QUIET: i32 = 4;

pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "mkv", "ts", "flv"];

/// A file in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub mtime: DateTime<Utc>,
}

impl Entry {
    /// The instant the file is ordered by.
    pub fn stamp(&self) -> DateTime<Utc> {
        stamp_from_name(&self.name, self.mtime).unwrap_or(self.mtime)
    }

    fn key(&self) -> (DateTime<Utc>, &str) {
        (self.stamp(), self.name.as_str())
    }
}

pub fn is_video(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && VIDEO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    })
}

/// The last file sent, as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSent {
    pub name: String,
    pub stamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub min_age: Duration,
    /// Zero: no catch-up skipping.
    pub max_lag: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Behind the stream (older than the last sent, or too far behind): delete.
    pub stale: Vec<String>,
    /// The file to send now.
    pub next: Option<String>,
    /// Held back as possibly still being written.
    pub held_back: Option<String>,
    /// Video files waiting (eligible or not), `next` included.
    pub pending: usize,
}

/// Decides what to do with the inbox. `complete` names files whose FTP upload finished;
/// `retry_at` names files that failed and may be tried again at that moment.
pub fn decide(
    entries: &[Entry],
    now: DateTime<Utc>,
    last: Option<&LastSent>,
    complete: &HashSet<String>,
    retry_at: &HashMap<String, DateTime<Utc>>,
    rules: &Rules,
) -> Decision {
    let mut files: Vec<&Entry> = entries.iter().filter(|e| is_video(&e.name)).collect();
    files.sort_by(|a, b| a.key().cmp(&b.key()));
    let mut out = Decision::default();
    let Some(newest) = files.last().copied() else {
        return out;
    };
    let lag_cutoff = (rules.max_lag > Duration::zero()).then(|| newest.stamp() - rules.max_lag);
    let mut live = Vec::new();
    for f in &files {
        let behind_last = last.is_some_and(|l| f.key() <= (l.stamp, l.name.as_str()));
        let too_late = lag_cutoff.is_some_and(|c| f.stamp() <= c);
        if behind_last || too_late {
            out.stale.push(f.name.clone());
        } else {
            live.push(*f);
        }
    }
    out.pending = live.len();
    for f in live {
        let known_done = complete.contains(&f.name);
        let quiet = now - f.mtime >= rules.min_age * NEWEST_QUIET;
        if std::ptr::eq(f, newest) && !known_done && !quiet {
            out.held_back = Some(f.name.clone());
            continue;
        }
        if !known_done && now - f.mtime < rules.min_age {
            continue;
        }
        if retry_at.get(&f.name).is_some_and(|t| *t > now) {
            continue;
        }
        if out.next.is_none() {
            out.next = Some(f.name.clone());
        }
    }
    out
}

/// A date and time of day in a file name: `YYYYMMDD[_-T ]HHMMSS`, `YYYY-MM-DD[_ T]HH-MM-SS`
/// (or with `:`), or a bare `HH-MM`/`HH:MM` taken on the day of `mtime`.
pub fn stamp_from_name(name: &str, mtime: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    // Runs of digits; the separators between them do not matter.
    let runs = digit_runs(stem);
    // YYYYMMDDHHMM[SS], in one run or split by separators (`2026-01-22_10-30-05`).
    for w in 0..runs.len() {
        for n in (1..=6).rev() {
            let Some(group) = runs.get(w..w + n) else {
                continue;
            };
            let s = group.concat();
            let full = match s.len() {
                14 => s,
                12 => format!("{s}00"),
                _ => continue,
            };
            if let Ok(t) = NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
                && (2000..2100).contains(&chrono::Datelike::year(&t))
            {
                return Some(t.and_utc());
            }
        }
    }
    // A bare time of day, HH-MM or HH-MM-SS (seed 003 names files `10:28.mp4`).
    if (runs.len() == 2 || runs.len() == 3) && runs.iter().all(|r| r.len() == 2) {
        let h: u32 = runs[0].parse().ok()?;
        let m: u32 = runs[1].parse().ok()?;
        let s: u32 = runs.get(2).map_or(Some(0), |r| r.parse().ok())?;
        let t = NaiveTime::from_hms_opt(h, m, s)?;
        let day: NaiveDate = mtime.date_naive();
        return Some(day.and_time(t).and_utc());
    }
    None
}

fn digit_runs(s: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

#[cfg(test)]
mod tests;
