//! Table-driven checks of the rules over a realistic store: four cameras of 10-minute
//! segments, the older ones uploaded, plus snapshots and clips.

use chrono::TimeZone;

use super::*;

const MB: u64 = 1_000_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn rules(on_full: OnDiskFull) -> Rules {
    Rules::from_config(&RetentionConfig {
        on_disk_full: on_full,
        ..RetentionConfig::default()
    })
}

fn ago(h: f64) -> DateTime<Utc> {
    now() - Duration::seconds((h * 3600.0) as i64)
}

fn item(id: i64, kind: MediaKind, end_h: f64, upload: Upload) -> Item {
    Item {
        id,
        kind,
        end: ago(end_h),
        bytes: 100 * MB,
        upload,
    }
}

#[test]
fn routine_rules_by_age_and_upload() {
    use MediaKind::*;
    use Upload::*;
    let d = |h: f64| h * 24.0;
    // (what, kind, ended hours ago, upload, expected)
    let table: &[(&str, MediaKind, f64, Upload, Option<DeleteReason>)] = &[
        ("fresh, awaiting upload", Continuous, 2.0, Awaiting, None),
        (
            "a month old, never uploaded: kept",
            Continuous,
            d(30.0),
            Awaiting,
            None,
        ),
        (
            "uploaded an hour ago",
            Continuous,
            2.0,
            Done(ago(1.0)),
            None,
        ),
        (
            "uploaded 23.9 h ago",
            Continuous,
            30.0,
            Done(ago(23.9)),
            None,
        ),
        (
            "uploaded 24 h ago",
            Continuous,
            30.0,
            Done(ago(24.0)),
            Some(DeleteReason::Uploaded),
        ),
        (
            "local only, 6.9 days",
            Continuous,
            d(6.9),
            NotExpected,
            None,
        ),
        (
            "local only, 7 days",
            Continuous,
            d(7.0),
            NotExpected,
            Some(DeleteReason::Age),
        ),
        (
            "uploaded recently but 8 days old",
            Continuous,
            d(8.0),
            Done(ago(1.0)),
            Some(DeleteReason::Age),
        ),
        ("snapshot, 29 days", Snapshot, d(29.0), NotExpected, None),
        (
            "snapshot, 30 days",
            Snapshot,
            d(30.0),
            NotExpected,
            Some(DeleteReason::Age),
        ),
        (
            "snapshot awaiting, 60 days",
            Snapshot,
            d(60.0),
            Awaiting,
            None,
        ),
        (
            "clip outlives continuous retention",
            Clip,
            d(8.0),
            NotExpected,
            None,
        ),
        ("clip, 89 days", Clip, d(89.0), NotExpected, None),
        (
            "clip, 90 days",
            Clip,
            d(90.0),
            NotExpected,
            Some(DeleteReason::Age),
        ),
        (
            "clip uploaded 25 h ago",
            Clip,
            30.0,
            Done(ago(25.0)),
            Some(DeleteReason::Uploaded),
        ),
    ];
    for (i, (what, kind, end_h, upload, want)) in table.iter().enumerate() {
        let items = [item(i as i64, *kind, *end_h, *upload)];
        let got = plan(&items, now(), None, &rules(OnDiskFull::DeleteOldest), false);
        let got = got.delete.first().map(|(_, r)| *r);
        assert_eq!(got, *want, "{what}");
    }
}

/// Four cameras, 48 hours of 10-minute segments each (1152 files of 100 MB): those older
/// than 12 h uploaded 1 h after they ended, plus a snapshot per camera per hour
/// (uploaded) and two clips, one uploaded.
fn realistic(uploads_delay_h: f64) -> Vec<Item> {
    let mut items = Vec::new();
    let mut id = 0;
    for _cam in 0..4 {
        for k in 0..288 {
            let end_h = 48.0 - k as f64 / 6.0;
            let up = if end_h > 12.0 {
                Upload::Done(ago(end_h - uploads_delay_h))
            } else {
                Upload::Awaiting
            };
            id += 1;
            items.push(item(id, MediaKind::Continuous, end_h, up));
        }
        for h in 0..48 {
            id += 1;
            let mut s = item(
                id,
                MediaKind::Snapshot,
                h as f64,
                Upload::Done(ago(h as f64)),
            );
            s.bytes = MB / 10;
            items.push(s);
        }
    }
    items.push(item(100_001, MediaKind::Clip, 40.0, Upload::Done(ago(0.5))));
    items.push(item(100_002, MediaKind::Clip, 1.0, Upload::Awaiting));
    items
}

fn kinds(items: &[Item], plan: &Plan) -> Vec<(MediaKind, bool, DeleteReason)> {
    plan.delete
        .iter()
        .map(|(id, r)| {
            let i = items.iter().find(|i| i.id == *id).unwrap();
            (i.kind, i.uploaded(), *r)
        })
        .collect()
}

#[test]
fn below_critical_only_routine_deletions_happen() {
    // Uploads lag 47 h: nothing reached keep_uploaded_hours yet except the oldest hour.
    let items = realistic(47.0);
    let disk = Disk {
        total: 140_000 * MB,
        used: 125_000 * MB, // 89 %: warn, not critical
    };
    let p = plan(
        &items,
        now(),
        Some(disk),
        &rules(OnDiskFull::DeleteOldest),
        false,
    );
    assert!(
        p.delete.iter().all(|(_, r)| *r == DeleteReason::Uploaded),
        "{p:?}"
    );
    assert!(!p.pause_recording);
    for (id, _) in &p.delete {
        let i = items.iter().find(|i| i.id == *id).unwrap();
        assert!(i.uploaded(), "only uploaded files go below critical");
    }
}

#[test]
fn critical_evicts_uploaded_footage_oldest_first_then_snapshots_until_under_warn() {
    let items = realistic(47.0);
    let disk = Disk {
        total: 130_000 * MB,
        used: 120_000 * MB, // 92.3 %
    };
    let r = rules(OnDiskFull::DeleteOldest);
    let p = plan(&items, now(), Some(disk), &r, false);
    assert!(
        p.used_percent_after < r.warn_percent,
        "{}",
        p.used_percent_after
    );
    let k = kinds(&items, &p);
    let evicted: Vec<_> = k.iter().filter(|x| x.2 == DeleteReason::Evicted).collect();
    assert!(!evicted.is_empty());
    assert!(evicted.iter().all(|x| x.0 == MediaKind::Continuous && x.1));
    assert!(
        k.iter().all(|x| x.2 != DeleteReason::DataLoss),
        "uploaded copies sufficed"
    );
    // Oldest first: the evicted ends are ascending and older than every survivor.
    let ends: Vec<_> = p
        .delete
        .iter()
        .filter(|(_, r)| *r == DeleteReason::Evicted)
        .map(|(id, _)| items.iter().find(|i| i.id == *id).unwrap().end)
        .collect();
    assert!(ends.windows(2).all(|w| w[0] <= w[1]));
    let last = *ends.last().unwrap();
    assert!(
        items
            .iter()
            .filter(|i| i.kind == MediaKind::Continuous && i.uploaded())
            .filter(|i| !p.delete.iter().any(|(id, _)| *id == i.id))
            .all(|i| i.end >= last)
    );
}

#[test]
fn delete_oldest_loses_unuploaded_footage_only_after_every_uploaded_file_and_clips_last() {
    let items = realistic(47.0);
    let r = rules(OnDiskFull::DeleteOldest);
    let all: u64 = items.iter().map(|i| i.bytes).sum();
    // A full disk where other data (3× the footage) leaves too little room even after every
    // uploaded file went.
    let disk = Disk {
        total: 4 * all,
        used: 4 * all,
    };
    let p = plan(&items, now(), Some(disk), &r, false);
    let k = kinds(&items, &p);
    let class = |x: &(MediaKind, bool, DeleteReason)| {
        EVICTION_ORDER
            .iter()
            .position(|c| c.0 == x.0 && c.1 == x.1)
            .unwrap()
    };
    let evictions: Vec<_> = k
        .iter()
        .filter(|x| matches!(x.2, DeleteReason::Evicted | DeleteReason::DataLoss))
        .collect();
    assert!(
        evictions.windows(2).all(|w| class(w[0]) <= class(w[1])),
        "eviction follows the class order: {evictions:?}"
    );
    let loss = k.iter().filter(|x| x.2 == DeleteReason::DataLoss).count();
    assert!(
        loss > 0,
        "un-uploaded footage goes when nothing else is left"
    );
    assert!(k.iter().all(|x| (x.2 == DeleteReason::DataLoss) != x.1));
    assert!(p.used_percent_after < r.warn_percent);
    // The un-uploaded clip is the very last thing to go, if at all.
    if let Some(pos) = p.delete.iter().position(|(id, _)| *id == 100_002) {
        assert_eq!(pos, p.delete.len() - 1);
    }
}

#[test]
fn stop_recording_never_loses_footage_and_pauses_with_hysteresis() {
    let items = realistic(47.0);
    let r = rules(OnDiskFull::StopRecording);
    let all: u64 = items.iter().map(|i| i.bytes).sum();
    // Full, mostly with data that is not ours to delete.
    let full = Disk {
        total: 10 * all,
        used: 10 * all,
    };
    let p = plan(&items, now(), Some(full), &r, false);
    assert!(p.delete.iter().all(|(_, r)| *r != DeleteReason::DataLoss));
    for (id, _) in &p.delete {
        assert!(items.iter().find(|i| i.id == *id).unwrap().uploaded());
    }
    assert!(
        p.pause_recording,
        "still full after every uploaded file went"
    );

    let nothing: Vec<Item> = Vec::new();
    let at = |pct: u64| Disk {
        total: 100 * MB,
        used: pct * MB,
    };
    // Paused: stays paused until under the warn mark.
    assert!(plan(&nothing, now(), Some(at(85)), &r, true).pause_recording);
    assert!(!plan(&nothing, now(), Some(at(79)), &r, true).pause_recording);
    // Recording: pauses only above critical.
    assert!(!plan(&nothing, now(), Some(at(85)), &r, false).pause_recording);
    assert!(plan(&nothing, now(), Some(at(91)), &r, false).pause_recording);
    // delete-oldest never pauses.
    assert!(
        !plan(
            &nothing,
            now(),
            Some(at(99)),
            &rules(OnDiskFull::DeleteOldest),
            false
        )
        .pause_recording
    );
}

#[test]
fn unuploaded_footage_survives_every_non_critical_case() {
    let items = realistic(47.0);
    for on_full in [OnDiskFull::DeleteOldest, OnDiskFull::StopRecording] {
        for pct in [0u64, 50, 79, 80, 85, 90] {
            let disk = Disk {
                total: 100 * MB,
                used: pct * MB,
            };
            let p = plan(&items, now(), Some(disk), &rules(on_full), false);
            for (id, _) in &p.delete {
                let i = items.iter().find(|i| i.id == *id).unwrap();
                assert!(i.uploaded(), "{pct} %: {i:?} deleted before upload");
            }
        }
    }
}
