//! Retention on a steered clock: an uploaded segment stays for `keep_uploaded_hours`, then goes,
//! with no sleeping: the daemon's time comes from its `Clock`, here a `ManualClock` moved two
//! days on. In-process, against a real store and real files.

use std::path::Path;

use camvault::base::{DataDir, ManualClock, SharedClock};
use camvault::config::{SourceKind, load_str};
use camvault::health::Health;
use camvault::retention::Retention;
use camvault::store::{SegmentEnd, SegmentState, Store};
use chrono::{Duration, Utc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_segment_goes_when_the_clock_passes_its_keep_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    let text = format!(
        "[device]\nid = \"t\"\ndata_dir = \"{}\"\n[upload]\ndestination = \"dir\"\ndir = \"{}\"\n[retention]\nkeep_uploaded_hours = 24\n[discovery]\nannounce = false\nauto_record = \"off\"\n",
        data.root().display(),
        dir.path().join("bucket").display()
    );
    let cfg = load_str(&text, Path::new("t.toml"), &[]).unwrap();
    std::fs::create_dir_all(data.root()).unwrap();
    let store = Store::open(&data.db()).unwrap();
    let rel = "recordings/front/2026-01-24/front_2026-01-24_14-00-00.mp4";
    std::fs::create_dir_all(data.join(rel).parent().unwrap()).unwrap();
    std::fs::write(data.join(rel), b"footage").unwrap();
    let now = Utc::now();
    store
        .write(move |db| {
            db.sync_cameras(&[("front".into(), SourceKind::Test, true)], now)?;
            let end = SegmentEnd {
                end: now - Duration::minutes(50),
                duration_ms: 600_000,
                bytes: 7,
                state: SegmentState::Closed,
            };
            let id = db.insert_closed_segment("front", rel, &end, now - Duration::hours(1))?;
            let job = db.enqueue(Some(id), rel, "k", 7, 0, now)?;
            db.job_done(job, "\"e\"", now - Duration::minutes(30))
        })
        .await
        .unwrap();
    store.flush().await.unwrap();

    let clock = ManualClock::shifted(Duration::zero());
    let shared: SharedClock = clock.clone();
    let health = Health::new(&cfg, store.clone(), shared);
    let retention = Retention::new(&cfg, store.clone(), health);
    let plan = retention.run_once().await.unwrap();
    assert!(plan.delete.is_empty(), "uploaded 30 minutes ago: kept");
    assert!(data.join(rel).exists());

    clock.advance(Duration::days(2));
    let plan = retention.run_once().await.unwrap();
    assert_eq!(
        plan.delete.len(),
        1,
        "two days on: past keep_uploaded_hours"
    );
    assert!(!data.join(rel).exists(), "the file is gone");
    let state: String = store
        .read(|db| {
            Ok(db
                .conn()
                .query_row("SELECT state FROM segment", [], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(state, "deleted");
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap()
        .unwrap();
}
