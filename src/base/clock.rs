//! Time: a `Clock` trait so components (and tests) can steer wall-clock time, and parsing of
//! the CLI's time arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// Wall-clock time. Monotonic intervals use `tokio::time`, which tests pause and advance.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The clock every component of one daemon shares.
pub type SharedClock = Arc<dyn Clock>;

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// The system clock shifted by an offset that tests set and move: a Pi without an RTC before
/// NTP, or a day passing in a second.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset_ms: AtomicI64,
}

impl ManualClock {
    pub fn shifted(offset: Duration) -> Arc<Self> {
        let c = ManualClock::default();
        c.advance(offset);
        Arc::new(c)
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

/// A time argument that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time: use RFC 3339 (2026-01-24T14:30:00Z), now, or -30m / -2h / -7d")]
pub struct BadTime(pub String);

/// A time argument: RFC 3339 (`2026-01-24T14:30:00Z`), `now`, or relative to `now` like
/// `-2h`, `-30m`, `-7d`, `-90s`, `-1w`.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, BadTime> {
    let t = s.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rel) = t.strip_prefix('-') {
        let split = rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len());
        let (num, unit) = rel.split_at(split);
        let n: i64 = num.parse().map_err(|_| bad_time(s))?;
        let d = match unit {
            "s" => Duration::try_seconds(n),
            "m" => Duration::try_minutes(n),
            "h" => Duration::try_hours(n),
            "d" => Duration::try_days(n),
            "w" => Duration::try_weeks(n),
            _ => None,
        }
        .ok_or_else(|| bad_time(s))?;
        return now.checked_sub_signed(d).ok_or_else(|| bad_time(s));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| bad_time(s))
}

fn bad_time(s: &str) -> BadTime {
    BadTime(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = DateTime::parse_from_rfc3339("2026-01-24T14:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("-2h", now).unwrap(), now - Duration::hours(2));
        assert_eq!(parse_time("-7d", now).unwrap(), now - Duration::days(7));
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("2026-01-24T15:30:00+01:00", now).unwrap(), now);
        assert!(parse_time("-2x", now).is_err());
        assert!(parse_time("yesterday", now).is_err());
    }

    #[test]
    fn a_manual_clock_moves_when_told() {
        let c = ManualClock::shifted(Duration::hours(-1));
        let before = c.now();
        assert!(before < SystemClock.now() - Duration::minutes(59));
        c.advance(Duration::hours(2));
        assert!(c.now() > SystemClock.now() + Duration::minutes(59));
    }
}
