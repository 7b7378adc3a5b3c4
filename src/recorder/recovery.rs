//! After a crash (or any ffmpeg exit), files in a camera's folder that the store does not know
//! are probed: playable ones are registered with their real duration and queued like any
//! other segment; unplayable remnants are moved to `<data_dir>/quarantine/<camera>/` and
//! recorded as quarantined. Nothing is deleted. Never run while this camera's ffmpeg runs.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration as CDuration, Utc};

use super::layout::{parse_name, relative_path};
use super::{Ctx, RecorderError, SegmentEvent};
use crate::base::durable::fsync_file_and_dir;
use crate::media::{MediaError, probe};
use crate::store::{SegmentEnd, SegmentState};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub registered: usize,
    pub quarantined: usize,
}

/// Recovers `camera`'s unknown files: in every day folder when `since` is None (start-up),
/// else only the files of the ffmpeg run that began then (named from one segment before
/// `since` on, in the folders from that day), so the cost follows the run, not the year of
/// footage behind it.
pub async fn reconcile(
    ctx: &Ctx,
    camera: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Recovered, RecorderError> {
    let mut done = Recovered::default();
    let cam_dir = ctx.data_dir.recordings(camera);
    // Names are clock-aligned segment starts: the run's first one is at most a segment
    // (and a minute of margin) before it began.
    let from = since.map(|t| t - CDuration::seconds(i64::from(ctx.segment_seconds) + 60));
    let cam = camera.to_string();
    let on_disk = tokio::task::spawn_blocking(move || list_files(&cam_dir, &cam, from))
        .await
        .map_err(|_| RecorderError::Cancelled)??;
    let by_rel: std::collections::HashMap<String, (DateTime<Utc>, String, PathBuf)> = on_disk
        .into_iter()
        .map(|(start, name, path)| (relative_path(camera, &name, start), (start, name, path)))
        .collect();
    let asked: Vec<String> = by_rel.keys().cloned().collect();
    let unknown = ctx.store.read(move |db| db.unknown_paths(asked)).await?;
    let mut files: Vec<_> = unknown
        .iter()
        .filter_map(|rel| by_rel.get(rel).cloned())
        .collect();
    files.sort();
    for (named_start, name, path) in files {
        match probe::playable_duration(&path).await {
            Ok(duration) => {
                register(ctx, camera, &name, &path, named_start, duration).await?;
                done.registered += 1;
            }
            Err(MediaError::Unplayable { detail, .. }) => {
                quarantine(ctx, camera, &name, &path, named_start, &detail).await?;
                done.quarantined += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if done != Recovered::default() {
        tracing::info!(
            camera,
            registered = done.registered,
            quarantined = done.quarantined,
            "recovered segments left by an interrupted recording"
        );
    }
    Ok(done)
}

/// Segment files in the camera's day folders (named from `from` on, when given).
fn list_files(
    cam_dir: &Path,
    camera: &str,
    from: Option<DateTime<Utc>>,
) -> std::io::Result<Vec<(DateTime<Utc>, String, PathBuf)>> {
    let first_day = from.map(|t| t.format("%Y-%m-%d").to_string());
    let Ok(days) = std::fs::read_dir(cam_dir) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for day in days.flatten() {
        let day_name = day.file_name().to_string_lossy().into_owned();
        // Day folders are YYYY-MM-DD: string order is time order.
        if first_day.as_ref().is_some_and(|f| day_name < *f) || !day.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(day.path())?.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(start) = parse_name(camera, &name) {
                if from.is_none_or(|f| start >= f) {
                    files.push((start, name, f.path()));
                }
            } else if !name.starts_with('.') {
                tracing::warn!(camera, file = %f.path().display(), "a file camvault did not name is in the recordings folder; leaving it alone");
            }
        }
    }
    Ok(files)
}

async fn register(
    ctx: &Ctx,
    camera: &str,
    name: &str,
    path: &Path,
    named_start: chrono::DateTime<chrono::Utc>,
    duration: std::time::Duration,
) -> Result<(), RecorderError> {
    let bytes = {
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || fsync_file_and_dir(&p))
            .await
            .map_err(|_| RecorderError::Cancelled)??
    };
    // The name has whole seconds; when the previous segment ended within that second, this
    // one began exactly there.
    let (cam, at) = (camera.to_string(), named_start + CDuration::seconds(1));
    let prev_end = ctx
        .store
        .read(move |db| db.last_end_before(&cam, at))
        .await?;
    let start = prev_end
        .filter(|e| *e >= named_start)
        .unwrap_or(named_start);
    let duration_ms = duration.as_millis() as i64;
    let end = SegmentEnd {
        end: start + CDuration::milliseconds(duration_ms),
        duration_ms,
        bytes: bytes as i64,
        state: SegmentState::Closed,
    };
    let rel = relative_path(camera, name, named_start);
    let (cam, rel2, end2) = (camera.to_string(), rel.clone(), end.clone());
    let id = ctx
        .store
        .write(move |db| db.insert_closed_segment(&cam, &rel2, &end2, start))
        .await?;
    ctx.store.durable().await?;
    ctx.announce(SegmentEvent {
        id,
        camera: camera.to_string(),
        path: rel,
        start,
        end: end.end,
        bytes: bytes as i64,
    });
    Ok(())
}

async fn quarantine(
    ctx: &Ctx,
    camera: &str,
    name: &str,
    path: &Path,
    named_start: chrono::DateTime<chrono::Utc>,
    detail: &str,
) -> Result<(), RecorderError> {
    let dir = ctx.data_dir.quarantine(camera);
    std::fs::create_dir_all(&dir)?;
    let mut target = dir.join(name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    std::fs::rename(path, &target)?;
    let bytes = fsync_file_and_dir(&target)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    tracing::warn!(
        camera,
        file = name,
        bytes,
        reason = detail,
        "unplayable recording moved to quarantine"
    );
    let file = target.file_name().unwrap_or_default().to_string_lossy();
    let rel = format!("quarantine/{camera}/{file}");
    let end = SegmentEnd {
        end: named_start,
        duration_ms: 0,
        bytes: bytes as i64,
        state: SegmentState::Quarantined,
    };
    let cam = camera.to_string();
    ctx.store
        .write(move |db| db.insert_closed_segment(&cam, &rel, &end, named_start))
        .await?;
    ctx.store.durable().await?;
    Ok(())
}
