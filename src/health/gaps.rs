//! Gap telemetry: per camera, the seconds of the last 24 hours that no footage covers. No NVR
//! reports it, and it is the number a user cares about: a restart loop, an unplugged camera,
//! a power cut or footage evicted before its upload all show up here, whatever the cause.

use chrono::{DateTime, Duration, Utc};

use crate::store::Covered;

/// The window the figure looks back over.
pub fn window() -> Duration {
    Duration::hours(24)
}

/// Milliseconds of [`Covered::counted_from`, `now`] covered neither by stored footage nor by
/// the segment being written since `open_since`.
pub fn missing_ms(c: Covered, open_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    let span = (now - c.counted_from).num_milliseconds().max(0);
    let open = open_since.map_or(0, |t| {
        (now - t.max(c.counted_from)).num_milliseconds().max(0)
    });
    // Names carry whole seconds: the open segment may seem to start up to a second before
    // the last one ended, so the sum can exceed the span by that much.
    (span - c.covered_ms - open).clamp(0, span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn what_neither_closed_nor_open_footage_covers() {
        let c = |from, covered_s: i64| Covered {
            counted_from: at(from),
            covered_ms: covered_s * 1000,
        };
        // An hour, 50 min of it stored, recording for the last 5: 5 min missing.
        assert_eq!(missing_ms(c(0, 3000), Some(at(3300)), at(3600)), 300_000);
        // Not recording now: the time since the last segment is missing too.
        assert_eq!(missing_ms(c(0, 3000), None, at(3600)), 600_000);
        // A camera added a minute ago, all of it recorded.
        assert_eq!(missing_ms(c(3540, 50), Some(at(3590)), at(3600)), 0);
        // Overlap of a second at a segment boundary is not negative footage.
        assert_eq!(missing_ms(c(0, 3001), Some(at(3000)), at(3600)), 0);
        // Nothing ever recorded: the whole window.
        assert_eq!(missing_ms(c(0, 0), None, at(86_400)), 86_400_000);
    }
}
