//! Clips, snapshots and the retention journal: what retention reads to decide, and the
//! mark → remove file → finish steps it takes to delete.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::jobs::JobState;
use super::model::{DeleteReason, MediaKind, SegmentEnd, SegmentState, from_ms, to_ms};
use super::{Db, StoreError};

/// A file on disk as retention sees it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: i64,
    pub kind: MediaKind,
    pub camera: String,
    /// Relative to data_dir.
    pub path: String,
    pub end: DateTime<Utc>,
    pub bytes: u64,
    /// The upload job's state, if the file has one.
    pub job: Option<JobState>,
    /// When the upload was verified.
    pub uploaded: Option<DateTime<Utc>>,
}

/// Deletions since a moment, for `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeletionCounts {
    pub deleted: i64,
    pub deleted_bytes: i64,
    /// Deleted before they were uploaded (the disk was full).
    pub data_loss: i64,
}

/// A closed segment's (path, start, end).
pub type Footage = (String, DateTime<Utc>, DateTime<Utc>);

/// How much of a window one camera's footage covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Covered {
    /// The window's start for this camera: later than asked when it was added since.
    pub counted_from: DateTime<Utc>,
    pub covered_ms: i64,
}

impl Db {
    /// Registers a finished clip or snapshot (fsynced by the caller).
    pub fn insert_media(
        &self,
        kind: MediaKind,
        camera: &str,
        path: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        bytes: i64,
    ) -> Result<i64, StoreError> {
        let end = SegmentEnd {
            end,
            duration_ms: (end - start).num_milliseconds(),
            bytes,
            state: SegmentState::Closed,
        };
        self.insert_finished(kind, camera, path, start, &end)
    }

    /// Every closed file not yet marked for deletion, oldest end first.
    pub fn stored_files(&self) -> Result<Vec<StoredFile>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.kind, c.name, s.path, s.end_ms, coalesce(s.bytes, 0), j.state, j.done_ms
               FROM segment s JOIN camera c ON c.id = s.camera_id
               LEFT JOIN upload_job j ON j.segment_id = s.id
              WHERE s.state = 'closed' AND s.delete_reason IS NULL
              ORDER BY s.end_ms, s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredFile {
                id: r.get(0)?,
                kind: r.get(1)?,
                camera: r.get(2)?,
                path: r.get(3)?,
                end: from_ms(r.get(4)?),
                bytes: r.get::<_, i64>(5)?.max(0) as u64,
                job: r.get(6)?,
                uploaded: r.get::<_, Option<i64>>(7)?.map(from_ms),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Step 1 of a deletion: the intent, durable before the file goes.
    pub fn mark_for_deletion(&self, id: i64, reason: DeleteReason) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE segment SET delete_reason = ?2 WHERE id = ?1 AND state = 'closed'",
            params![id, reason],
        )?;
        Ok(())
    }

    /// Step 3: the file is gone. A job still waiting to upload it can never succeed now.
    pub fn finish_deletion(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE segment SET state = 'deleted', deleted_ms = ?2 WHERE id = ?1",
            params![id, to_ms(now)],
        )?;
        self.conn.execute(
            "UPDATE upload_job SET state = 'failed', upload_id = NULL,
                    last_error = 'deleted locally before it was uploaded (disk full)'
              WHERE segment_id = ?1 AND state IN ('pending', 'uploading')",
            [id],
        )?;
        Ok(())
    }

    /// Deletions marked but not finished (a crash came between): (id, path).
    pub fn marked_deletions(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, path FROM segment WHERE delete_reason IS NOT NULL AND state != 'deleted'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every path of a file the store believes is on disk: (id, path).
    pub fn closed_paths(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, path FROM segment WHERE state = 'closed'")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn deletions_since(&self, since: DateTime<Utc>) -> Result<DeletionCounts, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(sum(bytes), 0), count(*) FILTER (WHERE delete_reason = 'data-loss')
               FROM segment INDEXED BY segment_deleted WHERE state = 'deleted' AND deleted_ms >= ?1",
            [to_ms(since)],
            |r| {
                Ok(DeletionCounts {
                    deleted: r.get(0)?,
                    deleted_bytes: r.get(1)?,
                    data_loss: r.get(2)?,
                })
            },
        )?)
    }

    /// Bytes of media (segments, clips, snapshots) that finished since a moment: what the
    /// recorder wrote to the card, whatever has been deleted since.
    pub fn media_bytes_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            // Through the kind index, one range per kind.
            "SELECT coalesce(sum(bytes), 0) FROM segment
              WHERE kind IN ('continuous', 'clip', 'snapshot') AND end_ms >= ?1",
            [to_ms(since)],
            |r| r.get(0),
        )?)
    }

    /// Per camera, how much of [from, to] its footage covers (ms), and from when it counts:
    /// `from`, or the moment the camera was added if later. Footage uploaded and then deleted
    /// still exists; footage evicted unuploaded (`data-loss`) or vanished (`missing`) does not.
    pub fn footage_covered(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Covered>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.name, max(c.created_ms, ?1),
                    coalesce(sum(max(0, min(s.end_ms, ?2) - max(s.start_ms, c.created_ms, ?1))), 0)
               FROM camera c LEFT JOIN segment s
                 ON s.camera_id = c.id AND s.kind = 'continuous' AND s.end_ms > ?1
                AND s.start_ms < ?2 AND s.state IN ('closed', 'deleted')
                AND (s.delete_reason IS NULL OR s.delete_reason NOT IN ('data-loss', 'missing'))
              WHERE c.retired_ms IS NULL
              GROUP BY c.id",
        )?;
        let rows = stmt.query_map([to_ms(from), to_ms(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Covered {
                    counted_from: from_ms(r.get(1)?),
                    covered_ms: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Closed segments of a camera overlapping [from, to], oldest first: (path, start, end).
    pub fn footage(
        &self,
        camera: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Footage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.path, s.start_ms, s.end_ms FROM segment s JOIN camera c ON c.id = s.camera_id
              WHERE c.name = ?1 AND s.kind = 'continuous' AND s.state = 'closed' AND s.delete_reason IS NULL
                AND s.end_ms > ?2 AND s.start_ms < ?3
              ORDER BY s.start_ms",
        )?;
        let rows = stmt.query_map(params![camera, to_ms(from), to_ms(to)], |r| {
            Ok((r.get(0)?, from_ms(r.get(1)?), from_ms(r.get(2)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
