//! `bandwidth_limit`: one token bucket shared by every upload. The burst is a tenth of a
//! second of traffic, so the rate holds over any window longer than that.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Clone)]
pub struct Limiter {
    inner: Option<Arc<Mutex<Bucket>>>,
}

struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Limiter {
    /// `bytes_per_second` None: unlimited.
    pub fn new(bytes_per_second: Option<u64>) -> Limiter {
        let inner = bytes_per_second.map(|r| {
            let rate = r as f64;
            let burst = (rate / 10.0).max(16.0 * 1024.0);
            Arc::new(Mutex::new(Bucket {
                rate,
                burst,
                tokens: 0.0,
                last: Instant::now(),
            }))
        });
        Limiter { inner }
    }

    /// Waits until `n` bytes may be sent.
    pub async fn take(&self, n: usize) {
        let Some(bucket) = &self.inner else { return };
        let mut need = n as f64;
        // Fractions of a byte are rounding, not debt.
        while need >= 1.0 {
            let wait = {
                let mut b = bucket.lock().await;
                let now = Instant::now();
                b.tokens =
                    (b.tokens + now.duration_since(b.last).as_secs_f64() * b.rate).min(b.burst);
                b.last = now;
                let grant = need.min(b.tokens);
                b.tokens -= grant;
                need -= grant;
                if need < 1.0 {
                    return;
                }
                // At least a millisecond: a zero sleep would spin without letting time pass.
                Duration::from_secs_f64(need.min(b.burst) / b.rate).max(Duration::from_millis(1))
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
    async fn unlimited_never_waits() {
        let l = Limiter::new(None);
        let t0 = Instant::now();
        l.take(1 << 30).await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }
}
