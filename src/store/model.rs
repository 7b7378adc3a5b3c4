//! Rows and the enums stored in them. Enums are TEXT columns guarded by CHECK constraints;
//! the names here must match those constraints (a test checks every variant round-trips).

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;

use crate::config::SourceKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentState {
    /// The recorder is still writing it.
    Recording,
    /// Complete, fsynced, ready to upload.
    Closed,
    /// Unreadable or corrupt: kept aside, never uploaded, never crashes anything.
    Quarantined,
    /// Removed from disk by retention; the row remains as history.
    Deleted,
}

impl SegmentState {
    pub const ALL: [SegmentState; 4] = [
        SegmentState::Recording,
        SegmentState::Closed,
        SegmentState::Quarantined,
        SegmentState::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SegmentState::Recording => "recording",
            SegmentState::Closed => "closed",
            SegmentState::Quarantined => "quarantined",
            SegmentState::Deleted => "deleted",
        }
    }
}

/// What a row of the `segment` table holds: continuous footage, an event clip, a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Continuous,
    Clip,
    Snapshot,
}

impl MediaKind {
    pub const ALL: [MediaKind; 3] = [MediaKind::Continuous, MediaKind::Clip, MediaKind::Snapshot];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Continuous => "continuous",
            MediaKind::Clip => "clip",
            MediaKind::Snapshot => "snapshot",
        }
    }
}

/// Why retention removed a file (`segment.delete_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteReason {
    /// Older than its kind's `*_days`.
    Age,
    /// Uploaded and verified `keep_uploaded_hours` ago.
    Uploaded,
    /// Evicted for space; a copy is in the cloud.
    Evicted,
    /// Evicted for space before it was uploaded: footage lost.
    DataLoss,
    /// The file had vanished from the disk (found at start-up).
    Missing,
}

impl DeleteReason {
    pub const ALL: [DeleteReason; 5] = [
        DeleteReason::Age,
        DeleteReason::Uploaded,
        DeleteReason::Evicted,
        DeleteReason::DataLoss,
        DeleteReason::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeleteReason::Age => "age",
            DeleteReason::Uploaded => "uploaded",
            DeleteReason::Evicted => "evicted",
            DeleteReason::DataLoss => "data-loss",
            DeleteReason::Missing => "missing",
        }
    }
}

/// TEXT enums that round-trip through their `as_str` names.
macro_rules! text_enum_sql {
    ($t:ty, $what:literal) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        FromSqlError::Other(format!(concat!("unknown ", $what, " `{}`"), s).into())
                    })
            }
        }
    };
}

text_enum_sql!(SegmentState, "segment state");
text_enum_sql!(MediaKind, "media kind");
text_enum_sql!(DeleteReason, "delete reason");
// A value the binary does not know is an error, never a guess: a newer schema is refused
// before this, so an unknown state means a damaged row.
text_enum_sql!(super::jobs::JobState, "upload job state");

impl ToSql for SourceKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SourceKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "rtsp" => Ok(SourceKind::Rtsp),
            "v4l2" => Ok(SourceKind::V4l2),
            "test" => Ok(SourceKind::Test),
            s => Err(FromSqlError::Other(
                format!("unknown source kind `{s}`").into(),
            )),
        }
    }
}

/// Milliseconds since the Unix epoch, the storage form of every instant.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[derive(Debug, Clone, Serialize)]
pub struct CameraRow {
    pub id: i64,
    pub name: String,
    pub source_kind: &'static str,
    pub enabled: bool,
    pub retired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentRow {
    pub id: i64,
    pub camera: String,
    /// Relative to `data_dir`.
    pub path: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    pub state: SegmentState,
    pub kind: MediaKind,
    /// Its upload job's state, if it has one.
    pub upload: Option<super::jobs::JobState>,
    /// Where it goes (or went) in the bucket.
    pub key: Option<String>,
}

/// A segment the recorder has started writing.
#[derive(Debug, Clone)]
pub struct NewSegment {
    pub camera: String,
    pub path: String,
    pub start: DateTime<Utc>,
}

/// How a segment ended.
#[derive(Debug, Clone)]
pub struct SegmentEnd {
    pub end: DateTime<Utc>,
    pub duration_ms: i64,
    pub bytes: i64,
    pub state: SegmentState,
}

#[derive(Debug, Clone, Default)]
pub struct SegmentFilter {
    pub camera: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub state: Option<SegmentState>,
    /// One kind of file only; `None`: continuous footage, clips and snapshots alike.
    pub kind: Option<MediaKind>,
    pub limit: Option<u32>,
}

/// Per-camera totals for `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CameraSummary {
    pub segments: i64,
    pub bytes: i64,
    pub last_segment_end: Option<DateTime<Utc>>,
}
