//! The relay's progress: the last file sent (so a restart neither re-sends nor goes back),
//! counters, and per-file retries.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::model::{from_ms, to_ms};
use super::{Db, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayProgress {
    /// The last file sent and the instant it is ordered by.
    pub last: Option<(String, DateTime<Utc>)>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
}

impl Db {
    pub fn relay_progress(&self) -> Result<RelayProgress, StoreError> {
        Ok(self.conn.query_row(
            "SELECT last_name, last_stamp_ms, last_sent_ms, sent, failed, skipped FROM relay_state WHERE id = 1",
            [],
            |r| {
                let name: Option<String> = r.get(0)?;
                let stamp: Option<i64> = r.get(1)?;
                Ok(RelayProgress {
                    last: name.zip(stamp.map(from_ms)),
                    last_sent_at: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    sent: r.get(3)?,
                    failed: r.get(4)?,
                    skipped: r.get(5)?,
                })
            },
        )?)
    }

    /// A file went out whole: it becomes the point the relay never goes back before.
    pub fn relay_sent(
        &self,
        name: &str,
        stamp: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE relay_state SET last_name = ?1, last_stamp_ms = ?2, last_sent_ms = ?3, sent = sent + 1 WHERE id = 1",
            params![name, to_ms(stamp), to_ms(now)],
        )?;
        self.conn
            .execute("DELETE FROM relay_retry WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn relay_skipped(&self, n: usize) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE relay_state SET skipped = skipped + ?1 WHERE id = 1",
            [n as i64],
        )?;
        Ok(())
    }

    /// A failed attempt; returns how many attempts the file has had.
    pub fn relay_attempt_failed(
        &self,
        name: &str,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO relay_retry (name, attempts, next_ms, last_error) VALUES (?1, 1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET attempts = attempts + 1, next_ms = ?2, last_error = ?3",
            params![name, to_ms(next), error],
        )?;
        Ok(self
            .conn
            .query_row(
                "SELECT attempts FROM relay_retry WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(1))
    }

    /// The file gave up for good (moved to `_failed/`).
    pub fn relay_gave_up(&self, name: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM relay_retry WHERE name = ?1", [name])?;
        self.conn.execute(
            "UPDATE relay_state SET failed = failed + 1 WHERE id = 1",
            [],
        )?;
        Ok(())
    }

    /// The camera uploaded the file again: it starts over with a fresh count of attempts.
    pub fn relay_forget_retry(&self, name: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM relay_retry WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn relay_retries(&self) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, next_ms FROM relay_retry")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, from_ms(r.get(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
