//! kill -9 during a burst of writes, 50 times over, on one real database file: every run must
//! leave an intact database that holds every write acknowledged as durable.
//!
//! The binary plays both parts: with CVTEST_CRASH_DB set it is the writer (it prints
//! `durable <run> <i>` once writes 0..=i are committed); otherwise it is the test, which
//! starts writers and kills them at pseudo-random moments.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rusqlite::Connection;

use camvault::config::SourceKind;
use camvault::store::{NewSegment, Store, StoreOptions};

const RUNS: u32 = 50;

fn main() {
    match std::env::var("CVTEST_CRASH_DB") {
        Ok(db) => writer(
            &db,
            std::env::var("CVTEST_CRASH_RUN").unwrap().parse().unwrap(),
        ),
        Err(_) => {
            // libtest flags (--nocapture, filters) are accepted and ignored.
            kill_loop();
            println!("test result: ok. kill -9 loop of {RUNS} runs passed");
        }
    }
}

fn writer(db: &str, run: u32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A short interval so each run sees many regular commits before it is killed.
        let opts = StoreOptions {
            commit_interval: Duration::from_millis(50),
            ..Default::default()
        };
        let store = Store::open_with(std::path::Path::new(db), opts).unwrap();
        store
            .write(|d| d.sync_cameras(&[("front".into(), SourceKind::Test, true)], Utc::now()))
            .await
            .unwrap();
        store.flush().await.unwrap();
        let mut out = std::io::stdout();
        writeln!(out, "ready").unwrap();
        for i in 0u64.. {
            let seg = NewSegment {
                camera: "front".into(),
                path: format!("run{run}/{i}.mp4"),
                start: Utc.timestamp_millis_opt(i as i64).unwrap(),
            };
            store.write(move |d| d.insert_segment(&seg)).await.unwrap();
            // Acknowledge both ways the daemon will: at the next regular commit, or forced.
            if i % 40 == 39 {
                store.durable().await.unwrap();
                writeln!(out, "durable {run} {i}").unwrap();
            } else if i % 97 == 96 {
                store.flush().await.unwrap();
                writeln!(out, "durable {run} {i}").unwrap();
            }
            out.flush().unwrap();
        }
    });
}

fn kill_loop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("camvault.db");
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut acked_runs = 0;
    for run in 0..RUNS {
        let mut child = Command::new(&exe)
            .env("CVTEST_CRASH_DB", &db)
            .env("CVTEST_CRASH_RUN", run.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)).ok().as_deref(),
            Some("ready"),
            "run {run}: writer did not start"
        );
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(30 + (seed >> 33) % 400);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let last: Option<u64> = rx
            .try_iter()
            .filter_map(|l| {
                l.strip_prefix(&format!("durable {run} "))
                    .and_then(|n| n.parse().ok())
            })
            .max();

        let conn = Connection::open(&db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "run {run}: database damaged");
        if let Some(last) = last {
            acked_runs += 1;
            let held: u64 = conn
                .query_row(
                    "SELECT count(*) FROM segment WHERE path LIKE ?1 AND start_ms <= ?2",
                    rusqlite::params![format!("run{run}/%"), last as i64],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                held,
                last + 1,
                "run {run}: writes 0..={last} were acknowledged durable, {held} survived"
            );
        }
    }
    // Most runs must have got far enough to acknowledge something, or the test proves little.
    assert!(
        acked_runs >= RUNS * 3 / 4,
        "only {acked_runs} of {RUNS} runs acknowledged a write"
    );
    // And the store opens and migrates normally afterwards.
    Store::open(&db).unwrap().close().unwrap();
}
