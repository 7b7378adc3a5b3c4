//! Lifetime totals for the metrics page: counters that only grow (rows are never removed,
//! only marked deleted), each read through an index so a scrape stays cheap at a year of
//! footage.

use chrono::{DateTime, Utc};

use super::model::from_ms;
use super::{Db, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaTotals {
    pub clips: i64,
    pub snapshots: i64,
    /// The start of the oldest footage still on the card.
    pub oldest_stored: Option<DateTime<Utc>>,
}

impl Db {
    pub fn media_totals(&self) -> Result<MediaTotals, StoreError> {
        let count = |kind: &str| -> Result<i64, StoreError> {
            Ok(self.conn().query_row(
                "SELECT count(*) FROM segment WHERE kind = ?1",
                [kind],
                |r| r.get(0),
            )?)
        };
        let oldest: Option<i64> = self
            .conn()
            .query_row(
                "SELECT start_ms FROM segment WHERE state = 'closed' ORDER BY end_ms LIMIT 1",
                [],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        Ok(MediaTotals {
            clips: count("clip")?,
            snapshots: count("snapshot")?,
            oldest_stored: oldest.map(from_ms),
        })
    }
}
