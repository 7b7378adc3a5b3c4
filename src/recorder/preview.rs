//! Preview pictures for Home Assistant's camera entity: one when a camera starts recording,
//! then one every `mqtt.snapshot_interval_seconds` while it records. Each becomes a
//! `snapshot.ready` event (reason "start" or "interval"), which MQTT publishes as the
//! camera's retained image. They are not stored or uploaded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Ctx;
use crate::health::{CameraState, DeviceEvent, MediaReady};

/// After a failed try (no complete fragment yet, a decode error), the next one. Not sooner:
/// each try decodes, and a camera's first seconds are when the machine is busiest.
const RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Start,
    Interval,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::Start => "start",
            Why::Interval => "interval",
        }
    }
}

/// What is due next for one recording camera.
#[derive(Debug, Clone, Copy)]
struct Due {
    at: Instant,
    why: Why,
}

/// Decides, from which cameras record now, what to take: plain logic, apart from the I/O.
#[derive(Debug, Default)]
struct Plan {
    due: BTreeMap<String, Due>,
}

impl Plan {
    /// The cameras whose preview is due now; a camera that stopped recording starts over.
    fn due(&mut self, recording: &[String], now: Instant) -> Vec<(String, Why)> {
        self.due.retain(|c, _| recording.contains(c));
        let mut out = Vec::new();
        for cam in recording {
            let d = self.due.entry(cam.clone()).or_insert(Due {
                at: now,
                why: Why::Start,
            });
            if d.at <= now {
                out.push((cam.clone(), d.why));
            }
        }
        out
    }

    fn taken(&mut self, cam: &str, ok: bool, now: Instant, every: Duration) {
        if let Some(d) = self.due.get_mut(cam) {
            *d = match ok {
                true => Due {
                    at: now + every,
                    why: Why::Interval,
                },
                false => Due {
                    at: now + RETRY_AFTER,
                    why: d.why,
                },
            };
        }
    }
}

pub async fn run(ctx: Arc<Ctx>, cameras: Vec<String>, every: Duration, cancel: CancellationToken) {
    let mut plan = Plan::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let recording: Vec<String> = cameras
            .iter()
            .filter(|c| ctx.health.camera_state(c) == Some(CameraState::Recording))
            .cloned()
            .collect();
        for (cam, why) in plan.due(&recording, Instant::now()) {
            let ok = match ctx.preview(&cam).await {
                Ok((path, bytes)) => {
                    let at = ctx.health.now();
                    ctx.health.emit(DeviceEvent::SnapshotReady(MediaReady {
                        camera: cam.clone(),
                        path,
                        key: None,
                        url: None,
                        start: at,
                        end: at,
                        duration_s: 0.0,
                        bytes,
                        reason: Some(why.as_str().to_string()),
                    }));
                    true
                }
                Err(e) => {
                    tracing::debug!(camera = %cam, error = %e, "preview not taken; trying again soon");
                    false
                }
            };
            plan.taken(&cam, ok, Instant::now(), every);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_at_start_then_every_interval_and_again_after_a_restart() {
        let every = Duration::from_secs(600);
        let t0 = Instant::now();
        let cams = vec!["front".to_string()];
        let mut p = Plan::default();
        assert_eq!(p.due(&cams, t0), [("front".to_string(), Why::Start)]);
        // A failed first try is retried soon, still as the start picture.
        p.taken("front", false, t0, every);
        assert!(p.due(&cams, t0 + Duration::from_secs(5)).is_empty());
        let t1 = t0 + RETRY_AFTER;
        assert_eq!(p.due(&cams, t1), [("front".to_string(), Why::Start)]);
        p.taken("front", true, t1, every);
        assert!(p.due(&cams, t1 + Duration::from_secs(599)).is_empty());
        assert_eq!(
            p.due(&cams, t1 + every),
            [("front".to_string(), Why::Interval)]
        );
        // The camera stops, then records again: a new start picture at once.
        assert!(p.due(&[], t1 + every).is_empty());
        assert_eq!(
            p.due(&cams, t1 + every + Duration::from_secs(1)),
            [("front".to_string(), Why::Start)]
        );
    }
}
