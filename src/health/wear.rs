//! Card wear: how many bytes camvault's own process writes to storage per day (the store:
//! WAL, checkpoints), from `/proc/self/io`, over a sliding window of hourly samples kept in
//! a fixed-size buffer. Media bytes come from the store (segments, clips, snapshots).

use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
/// A day of hourly samples, plus the one that closes the window.
const SAMPLES: usize = 25;

#[derive(Default)]
pub struct WearMeter {
    samples: heapless::Deque<(Instant, u64), SAMPLES>,
}

impl WearMeter {
    /// Notes the counter (at most one sample per hour is kept) and returns bytes per day over
    /// the window, once it spans at least a minute.
    pub fn per_day(&mut self, now: Instant, written: u64) -> Option<u64> {
        if self
            .samples
            .back()
            .is_none_or(|(t, _)| now.duration_since(*t) >= HOUR)
        {
            if self.samples.is_full() {
                self.samples.pop_front();
            }
            let _ = self.samples.push_back((now, written));
        }
        let (t0, b0) = *self.samples.front()?;
        let span = now.duration_since(t0).as_secs_f64();
        (span >= 60.0).then(|| (written.saturating_sub(b0) as f64 * 86_400.0 / span) as u64)
    }
}

/// Bytes this process has caused to be written to storage so far.
pub fn own_write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_a_sliding_day() {
        let mut m = WearMeter::default();
        let t0 = Instant::now();
        assert_eq!(m.per_day(t0, 1000), None);
        assert_eq!(m.per_day(t0 + Duration::from_secs(30), 2000), None);
        // 86,400 bytes in 10 minutes → 144 × that per day.
        assert_eq!(
            m.per_day(t0 + Duration::from_secs(600), 1000 + 86_400),
            Some(86_400 * 144)
        );
        // Two days on at 1 MB/h: the window forgets the first day.
        let mut bytes = 0;
        for h in 1..=48u64 {
            bytes += 1_000_000;
            m.per_day(t0 + HOUR * h as u32, bytes);
        }
        let day = m.per_day(t0 + HOUR * 48, bytes).unwrap();
        assert!((23_000_000..=25_000_000).contains(&day), "{day}");
        assert!(own_write_bytes().is_some());
    }
}
