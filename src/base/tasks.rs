//! The daemon's one set of long-lived tasks. Every task is supervised the same way (restarted
//! with backoff when it fails, panics or returns early) and stops on the one shared token.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::supervise::{Backoff, supervise};

pub struct Tasks {
    set: JoinSet<()>,
    cancel: CancellationToken,
}

impl Tasks {
    pub fn new(cancel: CancellationToken) -> Self {
        Tasks {
            set: JoinSet::new(),
            cancel,
        }
    }

    /// The token every task stops on.
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs `make(token)` under supervision until the daemon stops.
    pub fn spawn_supervised<F, Fut, E>(&mut self, name: impl Into<String>, make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        self.spawn_with_backoff(name, Backoff::default(), make);
    }

    pub fn spawn_with_backoff<F, Fut, E>(
        &mut self,
        name: impl Into<String>,
        backoff: Backoff,
        make: F,
    ) where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let (name, cancel) = (name.into(), self.cancel.clone());
        self.set.spawn(async move {
            supervise(&name, cancel, backoff, make).await;
        });
    }

    /// Waits for every task to end, at most `grace`. Returns false when some did not.
    pub async fn drain(&mut self, grace: Duration) -> bool {
        let drained = async { while self.set.join_next().await.is_some() {} };
        tokio::time::timeout(grace, drained).await.is_ok()
    }

    pub fn abort_all(&mut self) {
        self.set.abort_all();
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// For tasks that cannot fail: `Ok` after `f` returns.
pub async fn infallible(f: impl Future<Output = ()>) -> Result<(), std::convert::Infallible> {
    f.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_and_all_stop_on_cancel() {
        let cancel = CancellationToken::new();
        let mut tasks = Tasks::new(cancel.clone());
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        tasks.spawn_supervised("camera", move |tok| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    panic!("first run panics");
                }
                tok.cancelled().await;
                Ok::<(), String>(())
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        cancel.cancel();
        assert!(tasks.drain(Duration::from_secs(1)).await);
        assert!(tasks.is_empty());
    }
}
