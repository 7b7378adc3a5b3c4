//! Retention: keeps the card healthy. Every pass reads the files the store knows, the disk's
//! fill and the clock, asks [`policy::plan`] what to delete, and deletes it through the store
//! (mark durably, remove the file and sync its folder, finish the row), so a crash at any
//! instant leaves a state [`reconcile`] completes at the next start.

pub mod policy;
pub mod reconcile;
mod reserve;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::base::Tasks;
use crate::config::{Config, Destination};
use crate::health::{DeviceEvent, Health, disk_status};
use crate::store::{DeleteReason, Store, StoreError};
use policy::{Disk, Item, Plan, Rules};

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// How often retention looks, at the latest (a closed segment or a disk alert wakes it).
const PASS_EVERY: Duration = Duration::from_secs(30);
/// Deletions are journaled in batches: one durable commit per batch.
const BATCH: usize = 64;

/// What retention tells the rest of the device.
#[derive(Clone)]
pub struct RetentionHandle {
    /// `stop-recording` and the disk full: the recorder pauses while this is true.
    pub recording_paused: watch::Receiver<bool>,
    wake: Arc<Notify>,
}

impl RetentionHandle {
    /// Look now (a segment closed, a clip was written).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

pub struct Retention {
    data_dir: PathBuf,
    rules: Rules,
    uploads_enabled: bool,
    store: Store,
    health: Health,
    paused: watch::Sender<bool>,
    reserve: reserve::Reserve,
    /// (warn, critical) in percent.
    marks: (f64, f64),
}

impl Retention {
    pub fn new(cfg: &Config, store: Store, health: Health) -> Retention {
        Retention {
            data_dir: cfg.device.data_dir.clone(),
            rules: Rules::from_config(&cfg.retention),
            uploads_enabled: cfg.upload.destination != Destination::None,
            store,
            health,
            paused: watch::channel(false).0,
            reserve: reserve::Reserve::new(
                crate::base::DataDir::new(&cfg.device.data_dir).reserve(),
            ),
            marks: (
                f64::from(cfg.retention.disk_warn_percent),
                f64::from(cfg.retention.disk_critical_percent),
            ),
        }
    }

    /// Releases the reserve when the disk is critical (the journal needs room for the
    /// deletions about to be committed), takes it again once under the warn mark.
    async fn mind_the_reserve(&self) {
        let Some(d) = disk_status(&self.data_dir) else {
            return;
        };
        if d.used_percent >= self.marks.1 || d.free_bytes < (1 << 20) {
            self.reserve.release();
        } else if d.used_percent < self.marks.0 && !self.reserve.held() {
            let bytes = reserve::size_for(d.total_bytes);
            // Only when it fits with room to spare: the reserve must never be what fills it.
            if d.free_bytes > 4 * bytes {
                let r = self.reserve.clone();
                let held = tokio::task::spawn_blocking(move || r.hold(bytes)).await;
                if let Ok(Err(e)) = held {
                    tracing::warn!(error = %e, "retention: cannot hold the space reserve");
                }
            }
        }
    }

    /// One pass: decide, then delete. Returns the plan it carried out.
    pub async fn run_once(&self) -> Result<Plan, RetentionError> {
        self.mind_the_reserve().await;
        let files = self.store.read(|db| db.stored_files()).await?;
        let items: Vec<Item> = files
            .iter()
            .map(|f| Item::from_stored(f, self.uploads_enabled))
            .collect();
        let disk = disk_status(&self.data_dir).map(|d| Disk {
            total: d.used_bytes + d.free_bytes,
            used: d.used_bytes,
        });
        let plan = policy::plan(
            &items,
            self.health.now(),
            disk,
            &self.rules,
            *self.paused.borrow(),
        );
        if !plan.delete.is_empty() {
            tracing::info!(files = plan.delete.len(), "retention: deleting");
        }
        let by_id: std::collections::HashMap<i64, &crate::store::StoredFile> =
            files.iter().map(|f| (f.id, f)).collect();
        for batch in plan.delete.chunks(BATCH) {
            let marks: Vec<(i64, DeleteReason)> = batch.to_vec();
            self.store
                .write(move |db| {
                    marks
                        .iter()
                        .try_for_each(|(id, r)| db.mark_for_deletion(*id, *r))
                })
                .await?;
            self.store.flush().await?;
            let paths: Vec<(i64, String)> = batch
                .iter()
                .filter_map(|(id, _)| by_id.get(id).map(|f| (*id, f.path.clone())))
                .collect();
            remove_files(&self.data_dir, &paths).await?;
            let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
            let now = self.health.now();
            self.store
                .write(move |db| ids.iter().try_for_each(|id| db.finish_deletion(*id, now)))
                .await?;
            self.store.flush().await?;
            for (id, reason) in batch {
                if matches!(reason, DeleteReason::Evicted | DeleteReason::DataLoss)
                    && let Some(f) = by_id.get(id)
                {
                    self.report_eviction(f, *reason);
                }
            }
        }
        if plan.pause_recording != *self.paused.borrow() {
            if plan.pause_recording {
                tracing::error!(
                    used_percent = plan.used_percent_after,
                    "disk full and nothing uploaded left to delete: recording paused (on_disk_full = stop-recording)"
                );
            } else {
                tracing::info!("disk space is back: recording resumes");
            }
            self.paused.send_replace(plan.pause_recording);
            self.health.set_recording_paused(plan.pause_recording);
        }
        Ok(plan)
    }

    fn report_eviction(&self, f: &crate::store::StoredFile, reason: DeleteReason) {
        let data_loss = reason == DeleteReason::DataLoss;
        if data_loss {
            tracing::warn!(camera = %f.camera, path = %f.path, bytes = f.bytes, "disk critical: deleted footage that was not uploaded yet");
        }
        self.health.emit(DeviceEvent::RetentionEvicted {
            camera: f.camera.clone(),
            kind: f.kind,
            path: f.path.clone(),
            bytes: f.bytes,
            end: f.end,
            data_loss,
        });
    }
}

/// Step 2 of a deletion: the files go, and their folders are synced so the removal is as
/// durable as the mark was.
pub(crate) async fn remove_files(
    data_dir: &Path,
    paths: &[(i64, String)],
) -> Result<(), RetentionError> {
    let data_dir = data_dir.to_path_buf();
    let paths = paths.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut dirs = std::collections::BTreeSet::new();
        for (_, rel) in &paths {
            let p = data_dir.join(rel);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(RetentionError::Io {
                        path: rel.clone(),
                        source,
                    });
                }
            }
            if let Some(d) = p.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        for d in dirs {
            if let Ok(f) = std::fs::File::open(&d) {
                let _ = f.sync_all();
            }
        }
        Ok(())
    })
    .await
    // A removal that did not run must not be finished as if it had.
    .map_err(|e| RetentionError::Io {
        path: "(removal task)".into(),
        source: std::io::Error::other(e),
    })?
}

/// Reconciles the store with the disk, then runs retention passes until cancelled.
pub fn spawn(cfg: &Config, store: Store, health: Health, tasks: &mut Tasks) -> RetentionHandle {
    let retention = Arc::new(Retention::new(cfg, store, health));
    let wake = Arc::new(Notify::new());
    let handle = RetentionHandle {
        recording_paused: retention.paused.subscribe(),
        wake: wake.clone(),
    };
    tasks.spawn_supervised("retention", move |tok| {
        let (r, w) = (retention.clone(), wake.clone());
        async move {
            reconcile::at_start(&r.data_dir, &r.store, r.health.now()).await?;
            loop {
                r.run_once().await?;
                tokio::select! {
                    _ = tok.cancelled() => return Ok::<(), RetentionError>(()),
                    _ = w.notified() => {}
                    _ = tokio::time::sleep(PASS_EVERY) => {}
                }
            }
        }
    });
    handle
}
