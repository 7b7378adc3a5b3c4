//! Seed 003's rules and its worked example, minute by minute.

use chrono::TimeZone;

use super::*;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 22, h, m, s).unwrap()
}

/// `HH:MM.mp4`, written during its minute: mtime = the end of that minute, or `now` for the
/// file still being written.
fn inbox(from: u32, to: u32, now: DateTime<Utc>) -> Vec<Entry> {
    (from..=to)
        .map(|m| {
            let end = at(10, m, 0) + Duration::minutes(1);
            Entry {
                name: format!("10:{m:02}.mp4"),
                mtime: end.min(now),
            }
        })
        .collect()
}

fn rules() -> Rules {
    Rules {
        min_age: Duration::seconds(30),
        max_lag: Duration::seconds(300),
    }
}

fn decide_now(files: &[Entry], now: DateTime<Utc>, last: Option<&LastSent>) -> Decision {
    decide(files, now, last, &HashSet::new(), &HashMap::new(), &rules())
}

fn sent(name: &str) -> LastSent {
    let e = Entry {
        name: name.into(),
        mtime: at(0, 0, 0),
    };
    LastSent {
        name: name.into(),
        stamp: stamp_from_name(name, at(10, 0, 0)).unwrap_or(e.mtime),
    }
}

fn names(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn seed_003_worked_example() {
    // Moment 1 (10:31): 10:28 … 10:31 (being written) → send 10:28.
    let d = decide_now(&inbox(28, 31, at(10, 31, 0)), at(10, 31, 0), None);
    assert_eq!(d.next.as_deref(), Some("10:28.mp4"));
    assert_eq!(d.held_back.as_deref(), Some("10:31.mp4"));
    assert!(d.stale.is_empty());
    // Moment 2 (10:32): 10:28 was sent and deleted → send 10:29.
    let d = decide_now(
        &inbox(29, 32, at(10, 32, 0)),
        at(10, 32, 0),
        Some(&sent("10:28.mp4")),
    );
    assert_eq!(d.next.as_deref(), Some("10:29.mp4"));
    // Moment 3 (10:33) → send 10:30.
    let d = decide_now(
        &inbox(30, 33, at(10, 33, 0)),
        at(10, 33, 0),
        Some(&sent("10:29.mp4")),
    );
    assert_eq!(d.next.as_deref(), Some("10:30.mp4"));
    // The stream stops for ten minutes; at 10:45 it restarts with 10:31 … 10:45 waiting:
    // 10:31 – 10:40 are deleted as old, 10:41 goes next, 10:45 is held back.
    let d = decide_now(
        &inbox(31, 45, at(10, 45, 0)),
        at(10, 45, 0),
        Some(&sent("10:30.mp4")),
    );
    let old: Vec<String> = (31..=40).map(|m| format!("10:{m}.mp4")).collect();
    assert_eq!(d.stale, old);
    assert_eq!(d.next.as_deref(), Some("10:41.mp4"));
    assert_eq!(d.held_back.as_deref(), Some("10:45.mp4"));
    assert_eq!(d.pending, 5);
}

#[test]
fn never_back_in_time() {
    // "If the last one sent was 10:31, delete 10:28, 10:29, 10:30."
    let mut files = inbox(28, 30, at(10, 40, 0));
    files.extend(inbox(32, 33, at(10, 40, 0)));
    let d = decide_now(&files, at(10, 40, 0), Some(&sent("10:31.mp4")));
    assert_eq!(names(&d.stale), ["10:28.mp4", "10:29.mp4", "10:30.mp4"]);
    assert_eq!(d.next.as_deref(), Some("10:32.mp4"));
}

#[test]
fn a_finished_ftp_upload_is_sent_at_once_even_when_newest() {
    let now = at(10, 31, 0);
    let files = vec![Entry {
        name: "10:30.mp4".into(),
        mtime: now,
    }];
    let d = decide_now(&files, now, None);
    assert_eq!((d.next, d.held_back.as_deref()), (None, Some("10:30.mp4")));
    let done = HashSet::from(["10:30.mp4".to_string()]);
    let d = decide(&files, now, None, &done, &HashMap::new(), &rules());
    assert_eq!(d.next.as_deref(), Some("10:30.mp4"));
}

#[test]
fn young_files_wait_and_failed_files_wait_for_their_retry() {
    let now = at(10, 40, 0);
    let files = vec![
        Entry {
            name: "a_20260122_103500.mp4".into(),
            mtime: now - Duration::seconds(10),
        },
        Entry {
            name: "a_20260122_103600.mp4".into(),
            mtime: now - Duration::seconds(100),
        },
        Entry {
            name: "a_20260122_103700.mp4".into(),
            mtime: now,
        },
    ];
    // The oldest is too young (10 s < 30 s): the next one goes first.
    let d = decide_now(&files, now, None);
    assert_eq!(d.next.as_deref(), Some("a_20260122_103600.mp4"));
    let retry = HashMap::from([(
        "a_20260122_103600.mp4".to_string(),
        now + Duration::seconds(60),
    )]);
    let d = decide(&files, now, None, &HashSet::new(), &retry, &rules());
    assert_eq!(d.next, None);
}

#[test]
fn only_video_files_count() {
    for ok in [
        "a.mp4",
        "B.MOV",
        "c.mkv",
        "d.ts",
        "e.flv",
        "-x.mp4",
        ";rm -rf x.mp4",
        "café 1.mp4",
    ] {
        assert!(is_video(ok), "{ok}");
    }
    for no in ["a.jpg", "mp4", ".mp4", "a.mp4.part", "a.txt", "noext"] {
        assert!(!is_video(no), "{no}");
    }
}

#[test]
fn order_by_the_name_stamp_else_mtime_then_name() {
    let m = at(12, 0, 0);
    for (name, want) in [
        ("cam_20260122_103005.mp4", Some(at(10, 30, 5))),
        ("cam-2026-01-22_10-30-05.mp4", Some(at(10, 30, 5))),
        ("2026-01-22T10:30:05.mp4", Some(at(10, 30, 5))),
        ("CH01_202601221030.mp4", Some(at(10, 30, 0))),
        ("10:28.mp4", Some(at(10, 28, 0))),
        ("10-28-30.mp4", Some(at(10, 28, 30))),
        ("clip.mp4", None),
        ("clip7.mp4", None),
    ] {
        assert_eq!(stamp_from_name(name, m), want, "{name}");
    }
    // Without a stamp: by mtime, ties by name.
    let files = vec![
        Entry {
            name: "b.mp4".into(),
            mtime: at(9, 0, 0),
        },
        Entry {
            name: "a.mp4".into(),
            mtime: at(9, 0, 0),
        },
        Entry {
            name: "z.mp4".into(),
            mtime: at(8, 0, 0),
        },
        Entry {
            name: "new.mp4".into(),
            mtime: at(9, 59, 0),
        },
    ];
    let d = decide(
        &files,
        at(10, 0, 0),
        None,
        &HashSet::new(),
        &HashMap::new(),
        &Rules {
            min_age: Duration::seconds(30),
            max_lag: Duration::zero(),
        },
    );
    assert_eq!(d.next.as_deref(), Some("z.mp4"));
    assert_eq!(d.held_back.as_deref(), Some("new.mp4"));
    let last = LastSent {
        name: "z.mp4".into(),
        stamp: at(8, 0, 0),
    };
    let files: Vec<Entry> = files.into_iter().filter(|f| f.name != "z.mp4").collect();
    let no_lag = Rules {
        min_age: Duration::seconds(30),
        max_lag: Duration::zero(),
    };
    let d = decide(
        &files,
        at(10, 0, 0),
        Some(&last),
        &HashSet::new(),
        &HashMap::new(),
        &no_lag,
    );
    assert_eq!(d.next.as_deref(), Some("a.mp4"));
}

#[test]
fn the_newest_goes_once_quiet_for_four_minimum_ages() {
    let files = vec![Entry {
        name: "10:30.mp4".into(),
        mtime: at(10, 30, 0),
    }];
    // min_age 30 s: held for two minutes, then sent although nobody said it is complete.
    let d = decide_now(&files, at(10, 31, 59), None);
    assert_eq!((d.next, d.held_back.as_deref()), (None, Some("10:30.mp4")));
    let d = decide_now(&files, at(10, 32, 0), None);
    assert_eq!(d.next.as_deref(), Some("10:30.mp4"));
}
