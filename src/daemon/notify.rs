//! systemd integration: READY/STOPPING/STATUS, and a watchdog that only pets systemd while
//! the runtime and the store thread both answer.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Before a restart in place (the same process, exec'd again): systemd waits for READY=1
/// instead of taking the service for stopped.
pub fn reloading() {
    notify(&[
        NotifyState::Reloading,
        NotifyState::Status("restarting to record found cameras"),
    ]);
}

fn notify(states: &[NotifyState]) {
    // Outside systemd there is no NOTIFY_SOCKET and this does nothing.
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// The watchdog interval systemd asked for (WATCHDOG_USEC), if any. Like libsystemd, a
/// missing WATCHDOG_PID means the setting is ours; a different one means it is not.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pets the watchdog at half its interval while the store answers within that time. A hung
/// store (stuck disk) stops the petting and systemd restarts us.
pub async fn watchdog(interval: Duration, store: Store, cancel: CancellationToken) {
    let period = interval / 2;
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match tokio::time::timeout(period, store.read(|_| Ok(()))).await {
            Ok(Ok(())) => notify(&[NotifyState::Watchdog]),
            Ok(Err(e)) => tracing::error!(error = %e, "watchdog: store unusable; not petting"),
            Err(_) => tracing::error!("watchdog: store did not answer; not petting"),
        }
    }
}
