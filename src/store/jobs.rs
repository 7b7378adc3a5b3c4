//! The upload queue: jobs and the multipart parts committed for them.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::model::{MediaKind, from_ms, to_ms};
use super::{Db, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Uploading,
    Done,
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Pending,
        JobState::Uploading,
        JobState::Done,
        JobState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Uploading => "uploading",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub segment_id: Option<i64>,
    /// Relative to data_dir.
    pub path: String,
    pub key: String,
    pub bytes: i64,
    pub priority: i64,
    pub state: JobState,
    pub attempts: i64,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    pub upload_id: Option<String>,
    pub part_size: Option<i64>,
    pub bytes_done: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    pub number: i64,
    pub size: i64,
    pub crc32c: u32,
    pub etag: String,
}

/// The queue at a glance.
#[derive(Debug, Clone, Default)]
pub struct QueueSummary {
    pub pending: i64,
    pub pending_bytes: i64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub uploading: i64,
    pub failed: i64,
    pub uploaded_24h: i64,
}

/// A closed segment that has no upload job yet.
#[derive(Debug, Clone)]
pub struct Unqueued {
    pub segment_id: i64,
    pub camera: String,
    pub path: String,
    pub start: DateTime<Utc>,
    pub bytes: i64,
    pub kind: MediaKind,
}

const JOB_COLUMNS: &str = "id, segment_id, path, object_key, bytes, priority, state, attempts, next_attempt_ms, last_error, upload_id, part_size, bytes_done";

fn job_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        segment_id: r.get(1)?,
        path: r.get(2)?,
        key: r.get(3)?,
        bytes: r.get(4)?,
        priority: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt: from_ms(r.get(8)?),
        last_error: r.get(9)?,
        upload_id: r.get(10)?,
        part_size: r.get(11)?,
        bytes_done: r.get(12)?,
    })
}

impl Db {
    pub fn unqueued_segments(&self, limit: u32) -> Result<Vec<Unqueued>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, c.name, s.path, s.start_ms, coalesce(s.bytes, 0), s.kind
               FROM segment s JOIN camera c ON c.id = s.camera_id
              WHERE s.state = 'closed' AND NOT EXISTS (SELECT 1 FROM upload_job j WHERE j.segment_id = s.id)
              ORDER BY s.start_ms LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(Unqueued {
                segment_id: r.get(0)?,
                camera: r.get(1)?,
                path: r.get(2)?,
                start: from_ms(r.get(3)?),
                bytes: r.get(4)?,
                kind: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn enqueue(
        &self,
        segment_id: Option<i64>,
        path: &str,
        key: &str,
        bytes: i64,
        priority: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO upload_job (segment_id, path, object_key, bytes, priority, state, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            )?
            .execute(params![segment_id, path, key, bytes, priority, to_ms(now)])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The next job due: interrupted uploads and pending ones, highest priority first.
    pub fn next_job(&self, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM upload_job WHERE state IN ('pending', 'uploading') AND next_attempt_ms <= ?1
              ORDER BY priority DESC, id LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([to_ms(now)], job_row)
            .optional()?)
    }

    /// When the next job not yet due becomes due.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = self.conn.query_row(
            "SELECT min(next_attempt_ms) FROM upload_job WHERE state IN ('pending', 'uploading')",
            [],
            |r| r.get(0),
        )?;
        Ok(ms.map(from_ms))
    }

    /// Jobs in the given states, in the order they go. Read through the state index: a year
    /// of done jobs costs nothing here.
    pub fn jobs(&self, states: &[JobState]) -> Result<Vec<Job>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM upload_job WHERE state = ?1 ORDER BY priority DESC, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut all = Vec::new();
        for s in states {
            let rows = stmt.query_map([s], job_row)?;
            for r in rows {
                all.push(r?);
            }
        }
        all.sort_by_key(|j: &Job| (std::cmp::Reverse(j.priority), j.id));
        Ok(all)
    }

    pub fn start_multipart(
        &self,
        job: i64,
        upload_id: &str,
        part_size: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM upload_part WHERE job_id = ?1", [job])?;
        self.conn.execute(
            "UPDATE upload_job SET state = 'uploading', upload_id = ?2, part_size = ?3, bytes_done = 0 WHERE id = ?1",
            params![job, upload_id, part_size],
        )?;
        Ok(())
    }

    /// Forgets an upload the server no longer has (expired): the job starts over.
    pub fn reset_multipart(&self, job: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM upload_part WHERE job_id = ?1", [job])?;
        self.conn.execute("UPDATE upload_job SET upload_id = NULL, part_size = NULL, bytes_done = 0 WHERE id = ?1", [job])?;
        Ok(())
    }

    pub fn commit_part(&self, job: i64, part: &PartRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO upload_part (job_id, part_number, size, crc32c, etag) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![job, part.number, part.size, part.crc32c, part.etag])?;
        self.conn.execute(
            "UPDATE upload_job SET bytes_done = (SELECT coalesce(sum(size), 0) FROM upload_part WHERE job_id = ?1) WHERE id = ?1",
            [job],
        )?;
        Ok(())
    }

    pub fn parts(&self, job: i64) -> Result<Vec<PartRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT part_number, size, crc32c, etag FROM upload_part WHERE job_id = ?1 ORDER BY part_number",
        )?;
        let rows = stmt.query_map([job], |r| {
            Ok(PartRow {
                number: r.get(0)?,
                size: r.get(1)?,
                crc32c: r.get(2)?,
                etag: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn job_done(&self, job: i64, etag: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM upload_part WHERE job_id = ?1", [job])?;
        self.conn.execute(
            "UPDATE upload_job SET state = 'done', etag = ?2, done_ms = ?3, upload_id = NULL, bytes_done = bytes, last_error = NULL WHERE id = ?1",
            params![job, etag, to_ms(now)],
        )?;
        Ok(())
    }

    /// A failed attempt: retried at `next` (transient) or parked as failed (permanent).
    pub fn job_failed(
        &self,
        job: i64,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        match next {
            Some(at) => self.conn.execute(
                "UPDATE upload_job SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3,
                    state = CASE WHEN upload_id IS NULL THEN 'pending' ELSE 'uploading' END WHERE id = ?1",
                params![job, error, to_ms(at)],
            )?,
            None => self.conn.execute(
                "UPDATE upload_job SET attempts = attempts + 1, last_error = ?2, state = 'failed' WHERE id = ?1",
                params![job, error],
            )?,
        };
        Ok(())
    }

    pub fn retry_failed(&self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE upload_job SET state = CASE WHEN upload_id IS NULL THEN 'pending' ELSE 'uploading' END,
                attempts = 0, next_attempt_ms = 0 WHERE state = 'failed'",
            [],
        )?)
    }

    /// Every UploadId a job still owns.
    pub fn owned_upload_ids(&self) -> Result<Vec<String>, StoreError> {
        let ids = self
            .conn
            .prepare_cached("SELECT upload_id FROM upload_job WHERE upload_id IS NOT NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Those of `keys` that some job uploads to.
    pub fn known_keys(
        &self,
        keys: Vec<String>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM upload_job WHERE object_key = ?1)")?;
        let mut known = std::collections::HashSet::new();
        for k in keys {
            if stmt.query_row([&k], |r| r.get::<_, bool>(0))? {
                known.insert(k);
            }
        }
        Ok(known)
    }

    pub fn queue_summary(&self, now: DateTime<Utc>) -> Result<QueueSummary, StoreError> {
        Ok(self.conn.query_row(
            // One subquery per figure, each on an index: the cost follows the queue, not
            // the year of done jobs behind it.
            "SELECT
               (SELECT count(*) FROM upload_job WHERE state = 'pending'),
               (SELECT coalesce(sum(bytes - bytes_done), 0) FROM upload_job
                 WHERE state IN ('pending', 'uploading')),
               (SELECT min(created_ms) FROM upload_job WHERE state IN ('pending', 'uploading')),
               (SELECT count(*) FROM upload_job WHERE state = 'uploading'),
               (SELECT count(*) FROM upload_job WHERE state = 'failed'),
               (SELECT count(*) FROM upload_job INDEXED BY upload_job_done
                 WHERE state = 'done' AND done_ms >= ?1)",
            [to_ms(now) - 86_400_000],
            |r| {
                Ok(QueueSummary {
                    pending: r.get(0)?,
                    pending_bytes: r.get(1)?,
                    oldest_pending: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    uploading: r.get(3)?,
                    failed: r.get(4)?,
                    uploaded_24h: r.get(5)?,
                })
            },
        )?)
    }
}
