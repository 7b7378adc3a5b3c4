//! Start-up reconciliation of the store with the disk, both ways:
//! - a deletion marked but not finished (a crash came between) is finished;
//! - a row the store believes on disk whose file is gone is recorded as deleted (`missing`);
//! - a clip or snapshot on disk the store does not know (a crash between its rename and its
//!   row) is registered; a temporary `.partial` file is removed (it was never complete).
//!
//! Recordings without a row are the recorder's business (`recorder::recovery`): it probes them.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::{RetentionError, remove_files};
use crate::media::probe;
use crate::recorder::layout::{media_dir, parse_media_name};
use crate::store::{DeleteReason, MediaKind, Store};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub finished: usize,
    pub missing: usize,
    pub registered: usize,
    pub partial_removed: usize,
}

pub async fn at_start(
    data_dir: &Path,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Reconciled, RetentionError> {
    let mut done = Reconciled::default();

    let marked = store.read(|db| db.marked_deletions()).await?;
    if !marked.is_empty() {
        remove_files(data_dir, &marked).await?;
        let ids: Vec<i64> = marked.iter().map(|(id, _)| *id).collect();
        store
            .write(move |db| ids.iter().try_for_each(|id| db.finish_deletion(*id, now)))
            .await?;
        done.finished = marked.len();
    }

    let closed = store.read(|db| db.closed_paths()).await?;
    // One stat per file the store believes on disk: off the async threads.
    let (closed, missing) = {
        let dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let missing: Vec<i64> = closed
                .iter()
                .filter(|(_, rel)| !dir.join(rel).exists())
                .map(|(id, _)| *id)
                .collect();
            (closed, missing)
        })
        .await
        .map_err(|e| RetentionError::Io {
            path: "(start-up check)".into(),
            source: std::io::Error::other(e),
        })?
    };
    if !missing.is_empty() {
        for (_, rel) in closed.iter().filter(|(id, _)| missing.contains(id)) {
            tracing::warn!(path = %rel, "a file the store knew is gone from the disk");
        }
        done.missing = missing.len();
        store
            .write(move |db| {
                missing.iter().try_for_each(|id| {
                    db.mark_for_deletion(*id, DeleteReason::Missing)?;
                    db.finish_deletion(*id, now)
                })
            })
            .await?;
    }

    let known: std::collections::HashSet<String> = closed.into_iter().map(|(_, p)| p).collect();
    let cameras = store.read(|db| db.cameras()).await?;
    for cam in &cameras {
        for kind in [MediaKind::Clip, MediaKind::Snapshot] {
            let rel_dir = media_dir(kind, &cam.name);
            let Ok(entries) = std::fs::read_dir(data_dir.join(&rel_dir)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let rel = format!("{rel_dir}/{name}");
                if name.ends_with(".partial") {
                    let _ = std::fs::remove_file(e.path());
                    done.partial_removed += 1;
                    continue;
                }
                if known.contains(&rel) || !e.path().is_file() {
                    continue;
                }
                let Some(start) = parse_media_name(&cam.name, &name) else {
                    continue;
                };
                let bytes = e.metadata().map(|m| m.len() as i64).unwrap_or(0);
                let end = match kind {
                    MediaKind::Clip => match probe::playable_duration(&e.path()).await {
                        Ok(d) => start + Duration::from_std(d).unwrap_or_default(),
                        Err(err) => {
                            tracing::warn!(path = %rel, error = %err, "an unregistered clip does not play; leaving it alone");
                            continue;
                        }
                    },
                    _ => start,
                };
                let camera = cam.name.clone();
                let r = rel.clone();
                let registered = store
                    .write(move |db| db.insert_media(kind, &camera, &r, start, end, bytes))
                    .await;
                // A deleted row with this path (the file came back) stays history.
                if registered.is_ok() {
                    done.registered += 1;
                    tracing::info!(path = %rel, "registered a clip or snapshot the store had missed");
                }
            }
        }
    }
    store.flush().await?;
    if done != Reconciled::default() {
        tracing::info!(?done, "retention: store and disk reconciled");
    }
    Ok(done)
}
