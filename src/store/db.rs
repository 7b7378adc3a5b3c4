//! Typed queries over the one connection. Only the store thread holds a `Db`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;
use super::model::*;
use crate::config::SourceKind;

pub struct Db {
    pub(super) conn: Connection,
    pub(super) queue: Option<super::QueuePolicy>,
}

impl Db {
    /// The raw connection, for tests and for migrations that need more than the typed API.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Makes the camera table match the configured cameras: new ones are added, changed
    /// ones updated, vanished ones marked retired (their footage stays).
    pub fn sync_cameras(
        &self,
        cameras: &[(String, SourceKind, bool)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = to_ms(now);
        for (name, kind, enabled) in cameras {
            self.conn.execute(
                "INSERT INTO camera (name, source_kind, enabled, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET
                   source_kind = excluded.source_kind, enabled = excluded.enabled, retired_ms = NULL",
                params![name, kind, enabled, now],
            )?;
        }
        let mut live = self
            .conn
            .prepare("SELECT id, name FROM camera WHERE retired_ms IS NULL")?;
        let rows: Vec<(i64, String)> = live
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, name) in rows {
            if !cameras.iter().any(|(n, _, _)| *n == name) {
                self.conn.execute(
                    "UPDATE camera SET retired_ms = ?1 WHERE id = ?2",
                    params![now, id],
                )?;
            }
        }
        Ok(())
    }

    /// Remembers the record switch for `camera` (survives restarts).
    pub fn set_wanted(&self, camera: &str, wanted: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE camera SET wanted = ?2 WHERE name = ?1",
            params![camera, wanted],
        )?;
        Ok(())
    }

    /// The record switch of each camera that has been switched: name → on.
    pub fn wanted(&self) -> Result<BTreeMap<String, bool>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, wanted FROM camera WHERE wanted IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn cameras(&self) -> Result<Vec<CameraRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, source_kind, enabled, retired_ms IS NOT NULL FROM camera ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CameraRow {
                id: r.get(0)?,
                name: r.get(1)?,
                source_kind: r.get::<_, SourceKind>(2)?.as_str(),
                enabled: r.get(3)?,
                retired: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn camera_id(&self, name: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT id FROM camera WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::UnknownCamera(name.to_string()))
    }

    pub fn insert_segment(&self, seg: &NewSegment) -> Result<i64, StoreError> {
        let camera_id = self.camera_id(&seg.camera)?;
        self.conn
            .prepare_cached(
                "INSERT INTO segment (camera_id, path, start_ms, state) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                camera_id,
                seg.path,
                to_ms(seg.start),
                SegmentState::Recording
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records a finished segment in one step (the recorder learns of segments as they close).
    pub fn insert_closed_segment(
        &self,
        camera: &str,
        path: &str,
        end: &SegmentEnd,
        start: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.insert_finished(MediaKind::Continuous, camera, path, start, end)
    }

    /// One finished file of any kind (continuous footage, a clip, a snapshot).
    pub(super) fn insert_finished(
        &self,
        kind: MediaKind,
        camera: &str,
        path: &str,
        start: DateTime<Utc>,
        end: &SegmentEnd,
    ) -> Result<i64, StoreError> {
        let camera_id = self.camera_id(camera)?;
        self.conn
            .prepare_cached(
                "INSERT INTO segment (camera_id, path, start_ms, end_ms, duration_ms, bytes, state, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                camera_id,
                path,
                to_ms(start),
                to_ms(end.end),
                end.duration_ms,
                end.bytes,
                end.state,
                kind
            ])?;
        let id = self.conn.last_insert_rowid();
        if let (Some(q), SegmentState::Closed) = (&self.queue, end.state) {
            let key = q.key(kind, camera, start, path);
            self.enqueue(
                Some(id),
                path,
                &key,
                end.bytes,
                super::keys::priority(kind),
                end.end,
            )?;
        }
        Ok(id)
    }

    /// Every path the store knows for a camera, whatever its state.
    /// Those of `paths` that no segment row has (any state), looked up one by one in the
    /// path's unique index: the cost follows the files asked about, not the rows stored.
    pub fn unknown_paths(&self, paths: Vec<String>) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM segment WHERE path = ?1)")?;
        let mut unknown = Vec::new();
        for p in paths {
            if !stmt.query_row([&p], |r| r.get::<_, bool>(0))? {
                unknown.push(p);
            }
        }
        Ok(unknown)
    }

    /// The latest end of a closed segment of `camera` at or before `at`.
    pub fn last_end_before(
        &self,
        camera: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = self.conn.query_row(
            "SELECT max(s.end_ms) FROM segment s JOIN camera c ON c.id = s.camera_id
              WHERE c.name = ?1 AND s.kind = 'continuous' AND s.state = 'closed' AND s.end_ms <= ?2",
            params![camera, to_ms(at)],
            |r| r.get(0),
        )?;
        Ok(ms.map(from_ms))
    }

    pub fn end_segment(&self, id: i64, end: &SegmentEnd) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE segment SET end_ms = ?2, duration_ms = ?3, bytes = ?4, state = ?5 WHERE id = ?1",
            )?
            .execute(params![id, to_ms(end.end), end.duration_ms, end.bytes, end.state])?;
        Ok(())
    }

    /// Only the filters given become SQL, so SQLite can use the start index for a time
    /// range (`?1 IS NULL OR …` would hide it and scan every row ever stored).
    pub fn segments(&self, f: &SegmentFilter) -> Result<Vec<SegmentRow>, StoreError> {
        let mut sql = String::from(
            "SELECT s.id, c.name, s.path, s.start_ms, s.end_ms, s.duration_ms, s.bytes, s.state,
                    s.kind, j.state, j.object_key
               FROM segment s JOIN camera c ON c.id = s.camera_id
               LEFT JOIN upload_job j ON j.segment_id = s.id
              WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, cond: &str, v: rusqlite::types::Value| {
            args.push(v);
            *sql += &cond.replace('?', &format!("?{}", args.len()));
        };
        if let Some(kind) = f.kind {
            // `+` keeps SQLite on the time index, not the kind one.
            arg(
                &mut sql,
                " AND +s.kind = ?",
                kind.as_str().to_string().into(),
            );
        }
        if let Some(cam) = &f.camera {
            arg(&mut sql, " AND c.name = ?", cam.clone().into());
        }
        if let Some(since) = f.since {
            // No segment is longer than a day: the lower bound lets the index find them.
            arg(
                &mut sql,
                " AND coalesce(s.end_ms, s.start_ms) >= ?",
                to_ms(since).into(),
            );
            arg(
                &mut sql,
                " AND s.start_ms >= ?",
                (to_ms(since) - 86_400_000).into(),
            );
        }
        if let Some(until) = f.until {
            arg(&mut sql, " AND s.start_ms < ?", to_ms(until).into());
        }
        if let Some(state) = f.state {
            arg(
                &mut sql,
                " AND s.state = ?",
                state.as_str().to_string().into(),
            );
        }
        sql += " ORDER BY s.start_ms, c.name";
        if let Some(limit) = f.limit {
            arg(&mut sql, " LIMIT ?", i64::from(limit).into());
        }
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), segment_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Totals of the segments still on disk, per camera (retired cameras included).
    pub fn camera_summaries(&self) -> Result<BTreeMap<String, CameraSummary>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.name, count(s.id), coalesce(sum(s.bytes), 0), max(s.end_ms)
               FROM camera c LEFT JOIN segment s
                 ON s.camera_id = c.id AND s.kind = 'continuous'
                AND s.state IN ('recording', 'closed', 'quarantined')
              GROUP BY c.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                CameraSummary {
                    segments: r.get(1)?,
                    bytes: r.get(2)?,
                    last_segment_end: r.get::<_, Option<i64>>(3)?.map(from_ms),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn segment_row(r: &Row<'_>) -> rusqlite::Result<SegmentRow> {
    Ok(SegmentRow {
        id: r.get(0)?,
        camera: r.get(1)?,
        path: r.get(2)?,
        start: from_ms(r.get(3)?),
        end: r.get::<_, Option<i64>>(4)?.map(from_ms),
        duration_ms: r.get(5)?,
        bytes: r.get(6)?,
        state: r.get(7)?,
        kind: r.get(8)?,
        upload: r.get(9)?,
        key: r.get(10)?,
    })
}
