//! Scale benchmark: the daemon on a database holding a year of history (1,000,000 segment
//! rows: two cameras at 1-minute segments) against the same daemon on 10,000 rows. The card
//! holds the same live footage in both (2,000 segments on disk, uploaded); only the history
//! differs, so every figure should stay flat. Run by `bench/store.sh`.
//!
//! `store_scale --camvault target/release/camvault [--rows 10000,1000000]`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use camvault::base::DataDir;
use camvault::config::{Config, load_file};
use camvault::daemon::Daemon;
use camvault::retention::Retention;
use camvault::store::{SegmentEnd, SegmentState, Store};
use chrono::{DateTime, Utc};

/// Segments on disk in every run, whatever the history.
const LIVE: i64 = 2_000;
const CAMERAS: [&str; 2] = ["front", "back"];

/// What is measured, in the order of `Figures::values`.
const NAMES: [&str; 8] = [
    "start-up to ready (ms, one sample)",
    "recovery after an ffmpeg exit (ms)",
    "one retention pass (ms)",
    "`segments --since -1h` (ms)",
    "`status` (ms)",
    "`queue` (ms)",
    "insert closed segment + job, committed (ms)",
    "peak RSS (MiB)",
];

struct Figures {
    rows: i64,
    values: [f64; NAMES.len()],
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bin = PathBuf::from(arg("--camvault").expect("--camvault <path to the binary>"));
    // The second mode: this process measures one filled directory.
    if let Some(cfg) = arg("--measure") {
        let rows = arg("--rows-in-db")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        emit(&measure(PathBuf::from(cfg), bin, rows));
        return;
    }
    let rows: Vec<i64> = arg("--rows")
        .unwrap_or_else(|| "10000,1000000".into())
        .split(',')
        .map(|s| s.parse().expect("--rows: numbers"))
        .collect();
    let mut all = Vec::new();
    for n in rows {
        let dir = tempfile::tempdir().expect("temp dir");
        eprintln!("store_scale: filling {n} rows");
        let t = Instant::now();
        let cfg_path = fill(dir.path(), n);
        eprintln!("store_scale: filled in {:?}", t.elapsed());
        // Each size is measured in a fresh process: RSS is this run's alone.
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--measure", &cfg_path.display().to_string()])
            .args(["--camvault", &bin.display().to_string()])
            .arg("--rows-in-db")
            .arg(n.to_string())
            .output()
            .expect("measure");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        all.push(parse(&String::from_utf8_lossy(&out.stdout)));
        if std::env::var_os("CV_BENCH_KEEP").is_some() {
            eprintln!("store_scale: kept {}", dir.keep().display());
        }
    }
    table(&all);
}

/// The second process: start the daemon on the filled directory and time everything.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn measure(cfg_path: PathBuf, bin: PathBuf, rows: i64) -> Figures {
    let cfg: Config = load_file(&cfg_path).expect("config");
    let t = Instant::now();
    let daemon = Daemon::start(cfg.clone()).await.expect("daemon");
    let startup = t.elapsed();

    let recorder = daemon.recorder();
    let since = Utc::now() - chrono::Duration::minutes(10);
    let recovery = median(21, || async {
        let t = Instant::now();
        recorder.recover("front", Some(since)).await.unwrap();
        t.elapsed()
    })
    .await;

    let retention = Retention::new(&cfg, daemon.store(), daemon.health());
    let retention = median(21, || async {
        let t = Instant::now();
        retention.run_once().await.unwrap();
        t.elapsed()
    })
    .await;

    let cli = |args: &'static [&'static str]| {
        let (bin, cfg) = (bin.clone(), cfg_path.clone());
        move || {
            let (bin, cfg) = (bin.clone(), cfg.clone());
            async move {
                let t = Instant::now();
                let out = tokio::process::Command::new(&bin)
                    .arg("--config")
                    .arg(&cfg)
                    .args(args)
                    .output()
                    .await
                    .unwrap();
                assert!(out.status.success(), "{args:?}: {out:?}");
                t.elapsed()
            }
        }
    };
    let segments = median(21, cli(&["segments", "--since", "-1h", "--json"])).await;
    let status = median(21, cli(&["status", "--json"])).await;
    let queue = median(21, cli(&["queue", "--json"])).await;

    let store = daemon.store();
    let mut k = 0;
    let insert = median(101, || {
        k += 1;
        let store = store.clone();
        let n = k;
        async move {
            let start = Utc::now() + chrono::Duration::days(400) + chrono::Duration::minutes(n);
            let path = format!("recordings/front/bench/front_{n}.mp4");
            let t = Instant::now();
            store
                .write(move |db| {
                    let end = SegmentEnd {
                        end: start + chrono::Duration::minutes(1),
                        duration_ms: 60_000,
                        bytes: 1024,
                        state: SegmentState::Closed,
                    };
                    let id = db.insert_closed_segment("front", &path, &end, start)?;
                    db.enqueue(Some(id), &path, &path, 1024, 0, start)
                })
                .await
                .unwrap();
            store.flush().await.unwrap();
            t.elapsed()
        }
    })
    .await;

    let rss_kib = vm_hwm_kib();
    daemon.run_until(async {}).await.expect("stop");
    Figures {
        rows,
        values: [
            ms(startup),
            ms(recovery),
            ms(retention),
            ms(segments),
            ms(status),
            ms(queue),
            ms(insert),
            rss_kib as f64 / 1024.0,
        ],
    }
}

async fn median<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(f().await);
    }
    v.sort();
    v[n / 2]
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Writes a config, a database of `rows` segments (the newest `LIVE` on disk and uploaded,
/// the rest deleted long ago, every one with its done upload job) and the live files.
fn fill(dir: &Path, rows: i64) -> PathBuf {
    let data = DataDir::new(dir.join("data"));
    std::fs::create_dir_all(data.root()).unwrap();
    let out = dir.join("bucket");
    let cfg_path = dir.join("camvault.toml");
    let mut cfg = String::from("[device]\nid = \"bench\"\n");
    cfg += &format!("data_dir = \"{}\"\n", data.root().display());
    cfg += &format!(
        "[upload]\ndestination = \"dir\"\ndir = \"{}\"\n",
        out.display()
    );
    cfg += "[retention]\nkeep_uploaded_hours = 48\n";
    for cam in CAMERAS {
        cfg += &format!("[[camera]]\nname = \"{cam}\"\nsource = \"test:\"\nenabled = false\n");
    }
    std::fs::write(&cfg_path, cfg).unwrap();
    Store::open(&data.db()).unwrap().close().unwrap();

    let mut conn = rusqlite::Connection::open(data.db()).unwrap();
    let tx = conn.transaction().unwrap();
    let now = Utc::now().timestamp() / 60 * 60 * 1000;
    for (i, cam) in CAMERAS.iter().enumerate() {
        tx.execute(
            "INSERT INTO camera (id, name, source_kind, enabled, created_ms) VALUES (?1, ?2, 'test', 0, 0)",
            rusqlite::params![i as i64 + 1, cam],
        )
        .unwrap();
    }
    {
        let mut seg = tx
            .prepare(
                "INSERT INTO segment (id, camera_id, path, start_ms, end_ms, duration_ms, bytes, state, kind, delete_reason, deleted_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 60000, 1024, ?6, 'continuous', ?7, ?8)",
            )
            .unwrap();
        let mut job = tx
            .prepare(
                "INSERT INTO upload_job (segment_id, path, object_key, bytes, state, created_ms, done_ms, etag)
                 VALUES (?1, ?2, ?2, 1024, 'done', ?3, ?4, '\"e\"')",
            )
            .unwrap();
        for id in 1..=rows {
            // Newest first: row `id` is (id-1)/2 minutes before now, alternating cameras.
            let cam = ((id - 1) % 2) as usize;
            let start = now - ((id - 1) / 2 + 1) * 60_000;
            let end = start + 60_000;
            let t = DateTime::from_timestamp_millis(start).unwrap();
            let name = format!("{}_{}.mp4", CAMERAS[cam], t.format("%Y-%m-%d_%H-%M-%S"));
            let rel = format!(
                "recordings/{}/{}/{name}",
                CAMERAS[cam],
                t.format("%Y-%m-%d")
            );
            let live = id <= LIVE;
            let (state, reason, deleted) = if live {
                ("closed", None, None)
            } else {
                ("deleted", Some("uploaded"), Some(end + 86_400_000))
            };
            seg.execute(rusqlite::params![
                id,
                cam as i64 + 1,
                rel,
                start,
                end,
                state,
                reason,
                deleted
            ])
            .unwrap();
            job.execute(rusqlite::params![id, rel, end, end + 5_000])
                .unwrap();
            if live {
                let p = data.join(&rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, [0u8; 1024]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    cfg_path
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line between the measuring process and the parent: the rows, then each figure.
fn emit(f: &Figures) {
    let values: Vec<String> = f.values.iter().map(f64::to_string).collect();
    println!("{} {}", f.rows, values.join(" "));
}

fn parse(s: &str) -> Figures {
    let mut v = s
        .split_whitespace()
        .map(|x| x.parse::<f64>().expect("figure"));
    Figures {
        rows: v.next().expect("rows") as i64,
        values: std::array::from_fn(|_| v.next().expect("a figure")),
    }
}

fn table(all: &[Figures]) {
    print!("| figure |");
    for f in all {
        print!(" {} rows |", f.rows);
    }
    if all.len() == 2 {
        print!(" ratio |");
    }
    println!();
    println!(
        "|---|{}",
        "---|".repeat(all.len() + usize::from(all.len() == 2))
    );
    for (i, name) in NAMES.iter().enumerate() {
        print!("| {name} |");
        for f in all {
            print!(" {:.1} |", f.values[i]);
        }
        if all.len() == 2 {
            let (a, b) = (all[0].values[i], all[1].values[i]);
            print!(" {:.2} |", b / a.max(f64::MIN_POSITIVE));
        }
        println!();
    }
}
