//! Cameras recorded because they were found (`[discovery] auto_record`), kept so a restart
//! records them under the same names.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::model::{from_ms, to_ms};
use super::{Db, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FoundBy {
    Onvif,
    V4l2,
}

impl FoundBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::Onvif => "onvif",
            FoundBy::V4l2 => "v4l2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AutoCamera {
    pub name: String,
    pub kind: FoundBy,
    /// The ONVIF endpoint URN or the V4L2 device path.
    pub found_id: String,
    /// Without credentials.
    pub source: String,
    pub created: DateTime<Utc>,
}

impl Db {
    pub fn auto_cameras(&self) -> Result<Vec<AutoCamera>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT name, kind, found_id, source, created_ms FROM auto_camera ORDER BY created_ms, name",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(1)?;
            Ok(AutoCamera {
                name: r.get(0)?,
                kind: if kind == "onvif" {
                    FoundBy::Onvif
                } else {
                    FoundBy::V4l2
                },
                found_id: r.get(2)?,
                source: r.get(3)?,
                created: from_ms(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a found camera; false when it (by `found_id`) or its name is already known.
    pub fn add_auto_camera(&self, cam: &AutoCamera) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "INSERT INTO auto_camera (name, kind, found_id, source, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![
                cam.name,
                cam.kind.as_str(),
                cam.found_id,
                cam.source,
                to_ms(cam.created)
            ],
        )?;
        Ok(n == 1)
    }
}
