//! The SQLite store on a real database file: migrations, constraints, batching, durability.

use chrono::{Duration as CDuration, TimeZone, Utc};
use rusqlite::Connection;

use camvault::config::SourceKind;
use camvault::store::schema::{self, LATEST, MIGRATIONS};
use camvault::store::{
    NewSegment, SegmentEnd, SegmentFilter, SegmentState, Store, StoreError, StoreOptions,
};

/// Rows a database at each schema version holds, inserted before upgrading from it.
/// A new migration adds its fixture here; the test below insists.
const FIXTURES: &[(u32, &str)] = &[
    (
        1,
        "INSERT INTO camera (id, name, source_kind, enabled, created_ms) VALUES (1, 'front', 'rtsp', 1, 1700000000000);
         INSERT INTO segment (camera_id, path, start_ms, end_ms, duration_ms, bytes, state)
           VALUES (1, 'recordings/front/2023-11-14/front_2023-11-14_22-13-20.mp4', 1700000000000, 1700000600000, 600000, 12345, 'closed');",
    ),
    (
        2,
        "INSERT INTO upload_job (segment_id, path, object_key, bytes, state, upload_id, part_size, created_ms)
           VALUES (1, 'recordings/front/2023-11-14/front_2023-11-14_22-13-20.mp4', '2023/11/14/front/front_2023-11-14_22-13-20.mp4', 12345, 'uploading', 'up-1', 8388608, 1700000600000);
         INSERT INTO upload_part (job_id, part_number, size, md5_hex, etag) VALUES (1, 1, 8388608, '0123456789abcdef0123456789abcdef', '\"0123456789abcdef0123456789abcdef\"');",
    ),
    (
        3,
        "INSERT INTO segment (camera_id, path, start_ms, end_ms, duration_ms, bytes, state, kind)
           VALUES (1, 'clips/front/front_2023-11-14_22-15-00.mp4', 1700000100000, 1700000140000, 40000, 999, 'closed', 'clip');
         INSERT INTO segment (camera_id, path, start_ms, end_ms, duration_ms, bytes, state, delete_reason, deleted_ms)
           VALUES (1, 'recordings/front/2023-11-13/front_2023-11-13_22-13-20.mp4', 1699913600000, 1699914200000, 600000, 5, 'deleted', 'age', 1700600000000);",
    ),
    (
        4,
        "UPDATE relay_state SET last_name = 'cam_20231114_221320.mp4', last_stamp_ms = 1700000000000, sent = 3;
         INSERT INTO relay_retry (name, attempts, next_ms, last_error) VALUES ('bad.mp4', 1, 1700000300000, 'no video stream');",
    ),
    (
        5,
        "UPDATE upload_job SET upload_id = 'up-2', part_size = 8388608 WHERE id = 1;
         INSERT INTO upload_part (job_id, part_number, size, crc32c, etag) VALUES (1, 1, 8388608, 4294967295, '\"0123456789abcdef0123456789abcdef\"');",
    ),
    (
        6,
        "INSERT INTO upload_job (segment_id, path, object_key, bytes, state, created_ms, done_ms, etag)
           VALUES (NULL, 'clips/front/front_2023-11-14_22-15-00.mp4', 'clips/front/front_2023-11-14_22-15-00.mp4', 999, 'done', 1700000200000, 1700000300000, '\"e\"');",
    ),
    (7, "UPDATE camera SET wanted = 0 WHERE id = 1;"),
    (
        8,
        "INSERT INTO auto_camera (name, kind, found_id, source, created_ms)
           VALUES ('vivid', 'v4l2', '/dev/v4l/by-path/platform-vivid.0-video-index0', 'v4l2:///dev/v4l/by-path/platform-vivid.0-video-index0', 1700000700000);",
    ),
];

fn schema_of(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn migrates_from_empty_and_from_every_earlier_version() {
    assert_eq!(
        FIXTURES.len(),
        MIGRATIONS.len(),
        "every migration needs a fixture"
    );
    let dir = tempfile::tempdir().unwrap();

    let fresh = dir.path().join("fresh.db");
    Store::open(&fresh).unwrap().close().unwrap();
    assert_eq!(
        schema::version(&Connection::open(&fresh).unwrap()).unwrap(),
        LATEST
    );
    let want = schema_of(&fresh);

    for from in 1..LATEST + 1 {
        let path = dir.path().join(format!("from-v{from}.db"));
        let mut conn = Connection::open(&path).unwrap();
        // A database that lived through each version, gaining that version's rows.
        for (v, sql) in FIXTURES.iter().filter(|(v, _)| *v <= from) {
            assert_eq!(schema::upgrade_to(&mut conn, *v).unwrap(), *v);
            conn.execute_batch(sql)
                .unwrap_or_else(|e| panic!("fixture v{v}: {e}"));
        }
        drop(conn);
        let store = Store::open(&path).unwrap();
        let rows = store
            .blocking_read(|db| db.segments(&SegmentFilter::default()))
            .unwrap();
        store.close().unwrap();
        assert_eq!(
            schema_of(&path),
            want,
            "schema after upgrading from v{from}"
        );
        assert!(
            rows.iter()
                .any(|r| r.camera == "front" && r.bytes == Some(12345)),
            "v{from} data survives: {rows:?}"
        );
    }
}

#[test]
fn an_upload_begun_with_md5_parts_starts_over_under_crc32c() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    let mut conn = Connection::open(&path).unwrap();
    for (v, sql) in FIXTURES.iter().filter(|(v, _)| *v <= 4) {
        schema::upgrade_to(&mut conn, *v).unwrap();
        conn.execute_batch(sql).unwrap();
    }
    schema::upgrade_to(&mut conn, 5).unwrap();
    let (upload_id, part_size, parts): (Option<String>, Option<i64>, i64) = conn
        .query_row(
            "SELECT upload_id, part_size, (SELECT count(*) FROM upload_part) FROM upload_job WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // The job itself is kept (its file still needs uploading); only its MD5-era progress goes.
    assert_eq!((upload_id, part_size, parts), (None, None, 0));
}

#[test]
fn a_found_camera_is_kept_once_by_what_found_it() {
    use camvault::store::{AutoCamera, FoundBy};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("camvault.db")).unwrap();
    let cam = |name: &str, found_id: &str| AutoCamera {
        name: name.into(),
        kind: FoundBy::Onvif,
        found_id: found_id.into(),
        source: "rtsp://10.0.0.6:554/s1".into(),
        created: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    };
    let (a, again, renamed) = (
        cam("gate", "urn:uuid:1"),
        cam("gate-2", "urn:uuid:1"),
        cam("gate", "urn:uuid:2"),
    );
    let added = store
        .blocking_write(move |db| {
            Ok((
                db.add_auto_camera(&a)?,
                db.add_auto_camera(&again)?,
                db.add_auto_camera(&renamed)?,
            ))
        })
        .unwrap();
    assert_eq!(added, (true, false, false), "once per find, once per name");
    let kept = store.blocking_read(|db| db.auto_cameras()).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].name.as_str(), kept[0].kind),
        ("gate", FoundBy::Onvif)
    );
    store.close().unwrap();
}

#[test]
fn refuses_a_schema_newer_than_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    Store::open(&path).unwrap().close().unwrap();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", LATEST + 1)
        .unwrap();
    for r in [
        Store::open(&path).map(|_| ()),
        Store::open_read_only(&path).map(|_| ()),
    ] {
        match r {
            Err(StoreError::SchemaTooNew { found, known }) => {
                assert_eq!((found, known), (LATEST + 1, LATEST))
            }
            other => panic!("expected SchemaTooNew, got {:?}", other.err()),
        }
    }
    // Nothing was touched.
    assert_eq!(
        schema::version(&Connection::open(&path).unwrap()).unwrap(),
        LATEST + 1
    );
}

#[test]
fn read_only_open_never_creates_or_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    assert!(matches!(
        Store::open_read_only(&path),
        Err(StoreError::Missing(_))
    ));
    assert!(!path.exists());
    let mut conn = Connection::open(&path).unwrap();
    schema::upgrade_to(&mut conn, 0).unwrap();
    conn.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(conn);
    if LATEST > 0 {
        assert!(matches!(
            Store::open_read_only(&path),
            Err(StoreError::SchemaTooOld { .. })
        ));
    }
}

#[test]
fn states_are_checked_by_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    let store = Store::open(&path).unwrap();
    store
        .blocking_write(|db| {
            db.sync_cameras(&[("front".into(), SourceKind::Rtsp, true)], Utc::now())
        })
        .unwrap();
    store.close().unwrap();
    let conn = Connection::open(&path).unwrap();
    let bad = [
        "INSERT INTO segment (camera_id, path, start_ms, state) VALUES (1, 'a', 0, 'uploaded-ish')",
        "INSERT INTO segment (camera_id, path, start_ms, state) VALUES (1, 'b', 0, 'closed')",
        "INSERT INTO segment (camera_id, path, start_ms, end_ms, state) VALUES (1, 'c', 10, 5, 'closed')",
        "INSERT INTO camera (name, source_kind, enabled, created_ms) VALUES ('x', 'webcam', 1, 0)",
        "INSERT INTO camera (name, source_kind, enabled, created_ms) VALUES ('y', 'test', 2, 0)",
        "INSERT INTO segment (camera_id, path, start_ms, state) VALUES (99, 'd', 0, 'recording')",
    ];
    for sql in bad {
        let e = conn.execute(sql, []).expect_err(sql);
        assert!(e.to_string().contains("constraint"), "{sql}: {e}");
    }
}

#[test]
fn every_segment_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("camvault.db")).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 24, 14, 30, 0).unwrap();
    store
        .blocking_write(move |db| db.sync_cameras(&[("front".into(), SourceKind::Test, true)], t0))
        .unwrap();
    for (i, state) in SegmentState::ALL.into_iter().enumerate() {
        let start = t0 + CDuration::minutes(10 * i as i64);
        store
            .blocking_write(move |db| {
                let id = db.insert_segment(&NewSegment {
                    camera: "front".into(),
                    path: format!("s{i}.mp4"),
                    start,
                })?;
                if state != SegmentState::Recording {
                    let end = SegmentEnd {
                        end: start + CDuration::minutes(10),
                        duration_ms: 600_000,
                        bytes: 1000,
                        state,
                    };
                    db.end_segment(id, &end)?;
                }
                Ok(())
            })
            .unwrap();
    }
    let rows = store
        .blocking_read(|db| db.segments(&SegmentFilter::default()))
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.state).collect::<Vec<_>>(),
        SegmentState::ALL
    );
    // Filters: by state, by time window.
    let closed = store
        .blocking_read(|db| {
            db.segments(&SegmentFilter {
                state: Some(SegmentState::Closed),
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!(closed.len(), 1);
    let window = SegmentFilter {
        since: Some(t0 + CDuration::minutes(15)),
        until: Some(t0 + CDuration::minutes(25)),
        ..Default::default()
    };
    let rows = store.blocking_read(move |db| db.segments(&window)).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["s1.mp4", "s2.mp4"]
    );
    store.close().unwrap();
}

#[test]
fn a_failed_write_is_undone_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("camvault.db")).unwrap();
    store
        .blocking_write(|db| {
            db.sync_cameras(&[("front".into(), SourceKind::Test, true)], Utc::now())
        })
        .unwrap();
    let seg = |path: &str| NewSegment {
        camera: "front".into(),
        path: path.into(),
        start: Utc::now(),
    };
    let (a, b) = (seg("a.mp4"), seg("b.mp4"));
    store
        .blocking_write(move |db| db.insert_segment(&a))
        .unwrap();
    // Inserts a row and then fails: the row must not survive.
    let r = store.blocking_write(move |db| {
        db.insert_segment(&b)?;
        db.insert_segment(&NewSegment {
            camera: "nope".into(),
            path: "c.mp4".into(),
            start: Utc::now(),
        })
    });
    assert!(matches!(r, Err(StoreError::UnknownCamera(_))));
    store.blocking_flush().unwrap();
    let paths: Vec<String> = store
        .blocking_read(|db| db.segments(&SegmentFilter::default()))
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["a.mp4"]);
    store.close().unwrap();
}

#[test]
fn writes_are_batched_and_flush_makes_them_visible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    let opts = StoreOptions {
        commit_interval: std::time::Duration::from_millis(500),
        ..Default::default()
    };
    let store = Store::open_with(&path, opts).unwrap();
    store
        .blocking_write(|db| {
            db.sync_cameras(&[("front".into(), SourceKind::Test, true)], Utc::now())
        })
        .unwrap();
    store.blocking_flush().unwrap();
    let before = store.stats();

    let other = Connection::open(&path).unwrap();
    let count = || {
        other
            .query_row("SELECT count(*) FROM segment", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let t = std::time::Instant::now();
    for i in 0..300 {
        let seg = NewSegment {
            camera: "front".into(),
            path: format!("{i}.mp4"),
            start: Utc::now(),
        };
        store
            .blocking_write(move |db| db.insert_segment(&seg))
            .unwrap();
    }
    let elapsed = t.elapsed();
    // Applied (the store's own reads see them) but not committed (another connection does not).
    let seen = store
        .blocking_read(|db| Ok(db.segments(&SegmentFilter::default())?.len()))
        .unwrap();
    assert_eq!(seen, 300);
    if elapsed < std::time::Duration::from_millis(400) {
        assert_eq!(count(), 0, "nothing committed before the interval");
    }
    store.blocking_flush().unwrap();
    assert_eq!(count(), 300);
    let after = store.stats();
    assert_eq!(after.writes - before.writes, 300);
    // One commit per started interval, plus the flush.
    let bound = elapsed.as_millis() as u64 / 500 + 2;
    assert!(
        after.commits - before.commits <= bound,
        "{} commits for 300 writes in {elapsed:?}",
        after.commits - before.commits
    );
    store.close().unwrap();
}

#[tokio::test]
async fn durable_resolves_at_the_next_regular_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    let opts = StoreOptions {
        commit_interval: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let store = Store::open_with(&path, opts).unwrap();
    store
        .write(|db| db.sync_cameras(&[("front".into(), SourceKind::Test, true)], Utc::now()))
        .await
        .unwrap();
    let commits = store.stats().commits;
    store.durable().await.unwrap();
    assert_eq!(
        store.stats().commits,
        commits + 1,
        "durable waited for exactly one commit"
    );
    let n: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM camera", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    // Nothing pending: resolves at once, without a commit.
    store.durable().await.unwrap();
    assert_eq!(store.stats().commits, commits + 1);
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn closing_makes_other_handles_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("camvault.db")).unwrap();
    let other = store.clone();
    store.close().unwrap();
    assert!(matches!(
        other.blocking_read(|db| db.cameras()),
        Err(StoreError::Closed)
    ));
}

/// The gap telemetry's source: how much of a window a camera's footage covers. Footage
/// uploaded and then deleted counts (it exists, in the bucket); footage evicted before its
/// upload does not; the window starts when the camera was added.
#[test]
fn footage_covered_counts_what_still_exists_since_the_camera_was_added() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("camvault.db");
    Store::open(&path).unwrap().close().unwrap();
    let t = 1_800_000_000_000i64;
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO camera (id, name, source_kind, enabled, created_ms) VALUES (1, 'front', 'rtsp', 1, {t});
         INSERT INTO segment (camera_id, path, start_ms, end_ms, duration_ms, bytes, state, delete_reason) VALUES
           (1, 'a', {t}, {a}, 600000, 1, 'closed', NULL),
           (1, 'b', {a}, {b}, 600000, 1, 'deleted', 'uploaded'),
           (1, 'c', {b}, {c}, 600000, 1, 'deleted', 'data-loss'),
           (1, 'd', {c}, {d}, 600000, 1, 'quarantined', NULL),
           (1, 'e', {d}, {e}, 600000, 1, 'closed', NULL);",
        a = t + 600_000,
        b = t + 1_200_000,
        c = t + 1_800_000,
        d = t + 2_400_000,
        e = t + 3_000_000,
    ))
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let from = Utc.timestamp_millis_opt(t - 3_600_000).unwrap();
    // The window ends half way through the last segment.
    let to = Utc.timestamp_millis_opt(t + 2_700_000).unwrap();
    let got = store
        .blocking_read(move |db| db.footage_covered(from, to))
        .unwrap();
    let front = got["front"];
    assert_eq!(front.counted_from, Utc.timestamp_millis_opt(t).unwrap());
    assert_eq!(front.covered_ms, 600_000 + 600_000 + 300_000);
    store.close().unwrap();
}
