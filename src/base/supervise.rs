//! One pattern for every long-lived task: run it, and when it fails, panics or returns while
//! the daemon is still up, log it and start it again after a capped exponential backoff.
//! Everything stops on the one shared cancellation token.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Capped exponential backoff, as plain state so tests can check the sequence.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            next: base,
        }
    }

    /// The delay before the next attempt; doubles each time up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.base;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// A run that lasted this long counts as healthy: the next failure starts the backoff over.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Runs `make(cancel)` until `cancel` fires, restarting it with backoff. Returns the number of
/// restarts.
pub async fn supervise<F, Fut, E>(
    name: &str,
    cancel: CancellationToken,
    mut backoff: Backoff,
    mut make: F,
) -> u64
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let mut restarts = 0;
    loop {
        let started = Instant::now();
        // Spawned so a panic is caught as a JoinError instead of taking the daemon down.
        let outcome = tokio::spawn(make(cancel.child_token())).await;
        if cancel.is_cancelled() {
            return restarts;
        }
        match outcome {
            Ok(Ok(())) => tracing::warn!(task = name, "task stopped on its own; restarting"),
            Ok(Err(e)) => tracing::error!(task = name, error = %e, "task failed; restarting"),
            Err(e) => tracing::error!(task = name, error = %e, "task panicked; restarting"),
        }
        if started.elapsed() >= HEALTHY_AFTER {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tokio::select! {
            _ = cancel.cancelled() => return restarts,
            _ = tokio::time::sleep(delay) => {}
        }
        restarts += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let seq: Vec<u64> = (0..6).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seq, [1, 2, 4, 8, 10, 10]);
        b.reset();
        assert_eq!(b.next_delay().as_secs(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_failing_and_panicking_tasks_with_backoff() {
        let runs = Arc::new(AtomicU32::new(0));
        let cancel = CancellationToken::new();
        let r = runs.clone();
        let t0 = Instant::now();
        let task = tokio::spawn(supervise(
            "t",
            cancel.clone(),
            Backoff::default(),
            move |tok| {
                let n = r.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n {
                        0 => Err("first failure"),
                        1 => panic!("second run panics"),
                        _ => {
                            tok.cancelled().await;
                            Ok(())
                        }
                    }
                }
            },
        ));
        // Failure, 1 s, panic, 2 s, then the third run waits for cancellation.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        cancel.cancel();
        assert_eq!(task.await.unwrap(), 2);
        assert!(t0.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_the_backoff_wait() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let task = tokio::spawn(supervise(
            "t",
            cancel.clone(),
            Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600)),
            |_| async { Err::<(), _>("down") },
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.cancel();
        assert_eq!(task.await.unwrap(), 0);
    }
}
