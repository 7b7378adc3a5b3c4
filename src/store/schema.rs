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

pub const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        description: "upload jobs and their committed multipart parts",
        sql: r#"
        CREATE TABLE upload_job (
            id              INTEGER PRIMARY KEY,
            segment_id      INTEGER UNIQUE REFERENCES segment (id),
            -- relative to data_dir
            path            TEXT NOT NULL,
            object_key      TEXT NOT NULL,
            bytes           INTEGER NOT NULL CHECK (bytes >= 0),
            -- higher goes first: clips and snapshots before continuous footage
            priority        INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'done', 'failed')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            -- the open multipart upload, and the part size it was started with
            upload_id       TEXT,
            part_size       INTEGER CHECK (part_size IS NULL OR part_size >= 5242880),
            bytes_done      INTEGER NOT NULL DEFAULT 0,
            created_ms      INTEGER NOT NULL,
            done_ms         INTEGER,
            -- the ETag a HEAD confirmed after the upload
            etag            TEXT,
            CHECK (state != 'done' OR etag IS NOT NULL)
        ) STRICT;
        CREATE INDEX upload_job_next ON upload_job (state, priority DESC, next_attempt_ms);

        CREATE TABLE upload_part (
            job_id      INTEGER NOT NULL REFERENCES upload_job (id) ON DELETE CASCADE,
            part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
            size        INTEGER NOT NULL CHECK (size > 0),
            md5_hex     TEXT NOT NULL CHECK (length(md5_hex) = 32),
            etag        TEXT NOT NULL,
            PRIMARY KEY (job_id, part_number)
        ) STRICT;
    "#,
    },
    Migration {
        version: 3,
        description: "clips and snapshots beside segments; the retention deletion journal",
        sql: r#"
        ALTER TABLE segment ADD COLUMN kind TEXT NOT NULL DEFAULT 'continuous'
            CHECK (kind IN ('continuous', 'clip', 'snapshot'));
        -- Retention marks a row here before it removes the file, and sets state = 'deleted'
        -- after: a crash in between is finished at start-up, so no row outlives its file
        -- unnoticed and no file is removed without a trace.
        ALTER TABLE segment ADD COLUMN delete_reason TEXT
            CHECK (delete_reason IS NULL
                   OR delete_reason IN ('age', 'uploaded', 'evicted', 'data-loss', 'missing'));
        ALTER TABLE segment ADD COLUMN deleted_ms INTEGER;
        CREATE INDEX segment_kind_end ON segment (kind, end_ms);
    "#,
    },
    Migration {
        version: 4,
        description: "relay progress and per-file retries",
        sql: r#"
        -- One row: where the relay stands, so a restart neither re-sends nor goes back.
        CREATE TABLE relay_state (
            id            INTEGER PRIMARY KEY CHECK (id = 1),
            last_name     TEXT,
            last_stamp_ms INTEGER,
            last_sent_ms  INTEGER,
            sent          INTEGER NOT NULL DEFAULT 0 CHECK (sent >= 0),
            failed        INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
            skipped       INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),
            CHECK ((last_name IS NULL) = (last_stamp_ms IS NULL))
        ) STRICT;
        INSERT INTO relay_state (id) VALUES (1);

        CREATE TABLE relay_retry (
            name       TEXT PRIMARY KEY,
            attempts   INTEGER NOT NULL CHECK (attempts > 0),
            next_ms    INTEGER NOT NULL,
            last_error TEXT NOT NULL
        ) STRICT;
    "#,
    },
    Migration {
        version: 5,
        description: "multipart parts carry CRC32C instead of MD5",
        sql: r#"
        -- Parts are checked with CRC32C (x-amz-checksum-crc32c, which AWS and Garage both
        -- verify, and which the CPU computes in hardware) instead of MD5. An upload begun before
        -- has MD5-only parts under an upload created without a checksum algorithm: it starts
        -- over, and the start-up sweep aborts its server side as an orphan.
        UPDATE upload_job SET upload_id = NULL, part_size = NULL, bytes_done = 0
            WHERE upload_id IS NOT NULL;
        DROP TABLE upload_part;
        CREATE TABLE upload_part (
            job_id      INTEGER NOT NULL REFERENCES upload_job (id) ON DELETE CASCADE,
            part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
            size        INTEGER NOT NULL CHECK (size > 0),
            crc32c      INTEGER NOT NULL CHECK (crc32c BETWEEN 0 AND 4294967295),
            etag        TEXT NOT NULL,
            PRIMARY KEY (job_id, part_number)
        ) STRICT;
    "#,
    },
    Migration {
        version: 6,
        description: "indexes that keep every query flat at a year of footage",
        sql: r#"
        -- A year of 1-minute segments is a million rows, nearly all deleted long ago. Every
        -- regular query reads only what is live through one of these. The partial ones cost
        -- the insert of a new segment or job nothing.
        CREATE INDEX segment_state_end ON segment (state, end_ms);
        CREATE INDEX segment_camera_state ON segment (camera_id, state, kind);
        CREATE INDEX segment_deleted ON segment (deleted_ms) WHERE state = 'deleted';
        CREATE INDEX segment_marked ON segment (id)
            WHERE delete_reason IS NOT NULL AND state != 'deleted';
        CREATE INDEX upload_job_done ON upload_job (done_ms) WHERE state = 'done';
        CREATE INDEX upload_job_key ON upload_job (object_key);
    "#,
    },
    Migration {
        version: 7,
        description: "the record switch, kept across restarts",
        sql: r#"
        -- What `record` (the CLI, MQTT, Home Assistant's switch) last asked for: NULL follows
        -- the config's `enabled`. A camera switched off stays off after a restart.
        ALTER TABLE camera ADD COLUMN wanted INTEGER CHECK (wanted IS NULL OR wanted IN (0, 1));
    "#,
    },
    Migration {
        version: 8,
        description: "cameras found on the LAN or plugged in, recorded without a config entry",
        sql: r#"
        -- `[discovery] auto_record`: a camera found once keeps its name and source across
        -- restarts. `found_id` is what it was found by (an ONVIF endpoint URN, a V4L2 device
        -- path), so finding it again adds nothing. The source never holds a password: an
        -- ONVIF camera's comes from `[discovery]` when the camera is started.
        CREATE TABLE auto_camera (
            name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
            kind       TEXT NOT NULL CHECK (kind IN ('onvif', 'v4l2')),
            found_id   TEXT NOT NULL UNIQUE,
            source     TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        ) STRICT;
    "#,
    },
];

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
