//! Numbered schema migrations. The version lives in `PRAGMA user_version`; each step runs in
//! its own IMMEDIATE transaction that re-reads the version, so two processes opening the same
//! database cannot apply a step twice. Later features add steps at the end; never edit one
//! that has shipped.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "cameras and segments",
    sql: r#"
        CREATE TABLE camera (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 32),
            source_kind TEXT NOT NULL CHECK (source_kind IN ('rtsp', 'v4l2', 'test')),
            enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            created_ms  INTEGER NOT NULL,
            -- set when the camera leaves the config; its segments stay until retention
            retired_ms  INTEGER
        ) STRICT;

        CREATE TABLE segment (
            id          INTEGER PRIMARY KEY,
            camera_id   INTEGER NOT NULL REFERENCES camera (id),
            -- relative to data_dir, so the data disk can move
            path        TEXT NOT NULL UNIQUE,
            start_ms    INTEGER NOT NULL,
            end_ms      INTEGER,
            duration_ms INTEGER CHECK (duration_ms IS NULL OR duration_ms >= 0),
            bytes       INTEGER CHECK (bytes IS NULL OR bytes >= 0),
            state       TEXT NOT NULL
                        CHECK (state IN ('recording', 'closed', 'quarantined', 'deleted')),
            CHECK (end_ms IS NULL OR end_ms >= start_ms),
            CHECK (state = 'recording' OR end_ms IS NOT NULL)
        ) STRICT;

        CREATE INDEX segment_camera_start ON segment (camera_id, start_ms);
        CREATE INDEX segment_start ON segment (start_ms);
    "#,
}];

pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

pub fn version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the schema up to `target` (at most [`LATEST`]). Refuses a database newer than
/// this binary: an older camvault writing into a newer schema could corrupt its meaning.
pub fn upgrade_to(conn: &mut Connection, target: u32) -> Result<u32, StoreError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(StoreError::SchemaTooNew {
            found,
            known: LATEST,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version <= target) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Migration {
                version: m.version,
                source,
            })?;
        let current = version(&tx)?;
        if current >= m.version {
            continue;
        }
        let step = || -> Result<(), rusqlite::Error> {
            tx.execute_batch(m.sql)?;
            tx.pragma_update(None, "user_version", m.version)?;
            Ok(())
        };
        step().map_err(|source| StoreError::Migration {
            version: m.version,
            source,
        })?;
        tx.commit().map_err(|source| StoreError::Migration {
            version: m.version,
            source,
        })?;
        tracing::info!(
            version = m.version,
            what = m.description,
            "database migrated"
        );
    }
    Ok(version(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_ordered() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration {} out of order",
                m.description
            );
        }
    }
}
