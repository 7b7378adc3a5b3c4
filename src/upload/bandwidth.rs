//! `bandwidth_limit`: one token bucket shared by every upload. The burst is a tenth of a
//! second of traffic, so the rate holds over any window longer than that.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Clone)]
pub struct Limiter {
    /// Bytes per second; 0 is unlimited. Read without the lock: unlimited costs nothing.
    rate: Arc<AtomicU64>,
    bucket: Arc<Mutex<Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

fn burst(rate: f64) -> f64 {
    (rate / 10.0).max(16.0 * 1024.0)
}

impl Limiter {
    /// `bytes_per_second` None: unlimited.
    pub fn new(bytes_per_second: Option<u64>) -> Limiter {
        Limiter {
            rate: Arc::new(AtomicU64::new(bytes_per_second.unwrap_or(0))),
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: 0.0,
                last: Instant::now(),
            })),
        }
    }

    /// Changes the rate (the weekly schedule); uploads in flight follow at once.
    pub fn set_rate(&self, bytes_per_second: Option<u64>) {
        self.rate
            .store(bytes_per_second.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn rate(&self) -> Option<u64> {
        Some(self.rate.load(Ordering::Relaxed)).filter(|r| *r > 0)
    }

    /// Waits until `n` bytes may be sent.
    pub async fn take(&self, n: usize) {
        let mut need = n as f64;
        // Fractions of a byte are rounding, not debt.
        while need >= 1.0 {
            let Some(rate) = self.rate().map(|r| r as f64) else {
                return;
            };
            let wait = {
                let mut b = self.bucket.lock().await;
                let now = Instant::now();
                b.tokens =
                    (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst(rate));
                b.last = now;
                let grant = need.min(b.tokens);
                b.tokens -= grant;
                need -= grant;
                if need < 1.0 {
                    return;
                }
                // At least a millisecond: a zero sleep would spin without letting time pass.
                Duration::from_secs_f64(need.min(burst(rate)) / rate).max(Duration::from_millis(1))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate_across_callers() {
        let l = Limiter::new(Some(1024 * 1024));
        let t0 = Instant::now();
        let a = tokio::spawn({
            let l = l.clone();
            async move {
                for _ in 0..64 {
                    l.take(64 * 1024).await;
                }
            }
        });
        for _ in 0..64 {
            l.take(64 * 1024).await;
        }
        a.await.unwrap();
        // 8 MiB at 1 MiB/s, shared by two senders.
        let took = t0.elapsed().as_secs_f64();
        assert!((7.8..=8.2).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_rate_applies_at_once() {
        let l = Limiter::new(Some(1024 * 1024));
        let t0 = Instant::now();
        for _ in 0..16 {
            l.take(64 * 1024).await;
        }
        let slow = t0.elapsed().as_secs_f64();
        l.set_rate(Some(4 * 1024 * 1024));
        let t1 = Instant::now();
        for _ in 0..64 {
            l.take(64 * 1024).await;
        }
        let fast = t1.elapsed().as_secs_f64();
        assert!((0.9..=1.1).contains(&slow), "1 MiB at 1 MiB/s: {slow}");
        assert!((0.9..=1.1).contains(&fast), "4 MiB at 4 MiB/s: {fast}");
        l.set_rate(None);
        let t2 = Instant::now();
        l.take(1 << 30).await;
        assert_eq!(t2.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let l = Limiter::new(None);
        let t0 = Instant::now();
        l.take(1 << 30).await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }
}
