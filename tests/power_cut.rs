//! Power cuts while recording, the way a Pi loses power: the card image in qemu, its disk on
//! a host file opened `cache=directsync`, and qemu killed with SIGKILL at a random moment
//! while it records two cameras in 2-second fragments, uploads to the host's Garage, evicts
//! on a nearly full data partition and relays the clips a camera drops by FTP to the host's
//! nginx-rtmp. Each kill loses the guest's page cache, so
//! whatever was not fsynced is gone, as on a card.
//!
//! `cache=directsync` because it is what a card is: no volatile cache the host could lose or
//! flush later, every write acknowledged only once it is on the host's disk, and so nothing
//! the guest did not yet write survives, while everything it wrote does.
//!
//! After each cut the VM boots again, camvault recovers, and the test checks the store (a copy
//! taken with camvault frozen), the files, the bucket and what the server acknowledged. At the
//! end, nginx's recordings show every clip the camera was told arrived (226), whole, in
//! order, none skipped and none sent twice but the one in flight at a cut.
//! `POWER_CUTS` (default 10) cuts, fewer if `POWER_CUT_MINUTES` runs out first; `POWER_SEED`
//! replays a run; the tally goes to `target/power-cut-tally.txt`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

const CAMERAS: [&str; 2] = ["front", "yard"];
const FRAGMENT_S: i64 = 2;
const DATA: &str = "/var/lib/camvault";
/// The recordings as they were at the store's copy: hard links, so retention may go on.
const HELD: &str = ".power-cut-check";
/// The FTP camera's clips: this many grey levels, each clip this long.
const CLIP_LEVELS: usize = 10;
const CLIP_S: u32 = 2;
const FTP_PASSWORD: &str = "ftp-Cut-5521";

/// What the relay logged of a session that broke or a clip it could not send, this boot.
const RELAY_TROUBLE: &str = "journalctl -b -u camvault -o json --output-fields=MESSAGE,F_ERROR,F_FILE \
     | grep -E 'RTMP session lost|file not sent|relay ffmpeg'";

/// One segment as the store has it after a cut.
#[derive(Debug, Clone)]
struct Row {
    camera: String,
    path: String,
    start_ms: i64,
    end_ms: Option<i64>,
    duration_ms: Option<i64>,
    bytes: Option<i64>,
    state: String,
    delete_reason: Option<String>,
    job: Option<String>,
    key: Option<String>,
}

/// What the test knows of each closed segment once it has checked it: bytes and MD5.
type Ledger = HashMap<String, (i64, String)>;

#[test]
fn power_cuts_while_recording_lose_at_most_a_fragment_and_nothing_closed() {
    let cuts = env_num("POWER_CUTS", 10);
    let mut random = seeded_random("POWER_SEED");

    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    // A pass-through proxy: what the server acknowledged, request by request.
    let proxy = FaultProxy::start(garage.port, 0);
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let (ftp_port, passive) = (free_port(), free_port());
    let (disk, key, public) = vm_card(dir.path(), "+600M");
    let mut config = format!(
        "[device]\nid = \"cv-cut\"\n\n[recording]\nsegment_seconds = 10\nfragment_seconds = {FRAGMENT_S}\n\n\
         [retention]\ndisk_warn_percent = 88\ndisk_critical_percent = 90\n\n\
         [upload]\ndestination = \"s3\"\nendpoint = \"http://10.0.2.2:{}\"\nregion = \"us-east-1\"\n\
         bucket = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key_file = \"s3.secret\"\n",
        proxy.port, garage.bucket, garage.key_id
    );
    // The relay as a camera's FTP drops would use it, sending every clip (no catch-up skip)
    // and retrying a clip that fails soon.
    config += &format!(
        "\n[relay]\nenabled = true\nrtmp_url = \"rtmp://10.0.2.2:{}/live/{RTMP_KEY}\"\n\
         scan_interval_seconds = 1\nmin_file_age_seconds = 2\nmax_lag_seconds = 0\n\
         retry_delay_seconds = 2\nmax_retries = 50\n\n\
         [ftp]\nenabled = true\nlisten = \"0.0.0.0:2121\"\npassive_ports = \"{passive}-{passive}\"\n\
         users = [{{ name = \"cam1\", password_file = \"ftp.secret\" }}]\n",
        nginx.port
    );
    for cam in CAMERAS {
        config += &format!("\n[[camera]]\nname = \"{cam}\"\nsource = \"test:\"\n");
    }
    put_on_boot_partition(
        &disk,
        &[
            ("camvault.toml", &config),
            ("s3.secret", &garage.secret),
            ("ftp.secret", FTP_PASSWORD),
            ("authorized_keys", &public),
        ],
        dir.path(),
    );

    let forwards = [(ftp_port, 2121), (passive, passive)];
    let boot = || Vm::boot_forwarding(&disk, dir.path(), &key, "directsync", &forwards);
    let mut vm = boot();
    vm.wait_ssh("first boot", Duration::from_secs(600));
    wait_recording(&vm);
    // Nearly full: the data partition at 85 %, so recording crosses the 90 % mark within two
    // minutes, and then retention evicts uploaded footage down to 88 % every 45 s or so.
    let df: Vec<u64> = vm
        .sh(&format!("df -B1 --output=used,avail {DATA} | tail -n 1"))
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let ballast = ((df[0] + df[1]) as f64 * 0.85) as u64 - df[0];
    vm.sh(&format!("fallocate -l {ballast} {DATA}/ballast && sync"));
    eprintln!(
        "data partition {} MiB, ballast {} MiB",
        (df[0] + df[1]) >> 20,
        ballast >> 20
    );

    let camera = FtpCamera::start(&dir.path().join("clips"), ftp_port);

    let mut ledger = Ledger::new();
    let mut verified_objects: HashMap<String, String> = HashMap::new();
    let mut tally = Vec::new();
    let mut worst_loss = 0i64;
    let mut silent: Vec<String> = Vec::new();
    // A time budget, when one is given, stops the cuts early (the checks at the end still run).
    let budget = std::env::var("POWER_CUT_MINUTES")
        .ok()
        .and_then(|m| m.parse::<u64>().ok())
        .map(|m| Instant::now() + Duration::from_secs(m * 60));
    let mut made = 0;
    // Relay sessions that broke with the power on (each sends its clip again).
    let mut lost_live = 0;
    for i in 0..cuts {
        if budget.is_some_and(|b| Instant::now() > b) {
            eprintln!("time budget spent after {i} of {cuts} cuts");
            break;
        }
        made += 1;
        // Anywhere in a segment's life, an upload's, an eviction's: 0 to 25 s into recording.
        let delay = Duration::from_millis(random(25_000));
        std::thread::sleep(delay);
        // A relay session that broke with power on sends its clip again: said, not hidden.
        lost_live += relay_trouble(&vm, &format!("before cut {i}"));
        let cut_ms = vm.cut();
        let objects_at_cut = garage.tool(&["list"]).lines().count();
        vm = boot();
        let booting = Instant::now();
        // A boot SSH never answers (seen a few times in hundreds of boots, console at the
        // login prompt) is reported with what the card shows, and what the device did
        // meanwhile (the bucket: camvault recorded and uploaded, or not); then the power is
        // cut again. The next boot's checks cover both cuts.
        while let Err(why) = vm.try_wait_ssh(Duration::from_secs(300)) {
            let gained = garage.tool(&["list"]).lines().count() - objects_at_cut;
            eprintln!("cut {i}: SSH never answered; {gained} objects uploaded meanwhile; {why}");
            silent.push(format!(
                "after cut {i}: {gained} objects uploaded meanwhile"
            ));
            assert!(
                silent.len() <= cuts as usize / 5 + 1,
                "too many boots without SSH: {silent:?}"
            );
            assert!(
                gained > 0,
                "after cut {i}, no SSH and no upload: the device is not working"
            );
            vm = boot();
        }
        let booted = booting.elapsed();
        let t = Instant::now();
        wait_recording(&vm);
        // The bucket first: camvault goes on uploading, and every object listed before the
        // store is copied must have its row in the copy.
        let objects = garage.tool(&["list"]);
        let rows = store_after_cut(&vm, dir.path());
        // And after: every upload the copy calls done must be in it.
        let objects_after = garage.tool(&["list"]);
        let losses = check(&vm, dir.path(), &rows, cut_ms, &mut ledger);
        release(&vm);
        check_bucket(
            &garage,
            (&objects, &objects_after),
            &proxy,
            &rows,
            &ledger,
            &mut verified_objects,
        );
        let evicted = rows
            .iter()
            .filter(|r| r.delete_reason.as_deref() == Some("evicted"))
            .count();
        let lost = losses
            .iter()
            .map(|(c, l)| format!("{c} {:.1} s", *l as f64 / 1000.0))
            .collect::<Vec<_>>()
            .join(", ");
        worst_loss = worst_loss.max(losses.values().copied().max().unwrap_or(0));
        let line = format!(
            "cut {i}: {delay:.1?} into recording; lost {lost}; {} closed segments, {evicted} evicted, {} objects; {} clips delivered by FTP, {} relayed; SSH after {booted:.0?}, checked in {:.0?}",
            rows.iter().filter(|r| r.state == "closed").count(),
            verified_objects.len(),
            camera.delivered(),
            relay_status(&vm)["sent"],
            t.elapsed()
        );
        eprintln!("{line}");
        tally.push(line);
    }
    let (delivered, again, lost_at_end) = check_relay(camera, &vm, &nginx);
    lost_live += lost_at_end;
    tally.push(format!(
        "{made} cuts: max footage lost {:.1} s (bound {} s), integrity failures 0, duplicates 0; \
         {delivered} FTP clips relayed, none skipped, {again} sent again ({lost_live} sessions broke with power on); \
         {} boots without SSH {silent:?}",
        worst_loss as f64 / 1000.0,
        FRAGMENT_S + 1,
        silent.len()
    ));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/power-cut-tally.txt");
    std::fs::write(&out, tally.join("\n") + "\n").unwrap();
    eprintln!("{}", tally.last().unwrap());
    let _ = vm.ssh("systemctl poweroff");
}

/// A camera dropping clips by FTP, as cameras do: one 2-second clip every 4 s, named by its
/// time; an upload that fails (the device is off, or refuses it while the card is nearly
/// full) is tried again, same name, until it is acknowledged (226). Clip `i` shows grey
/// level `i % CLIP_LEVELS`.
struct FtpCamera {
    stop: Arc<AtomicBool>,
    delivered: Arc<std::sync::atomic::AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl FtpCamera {
    fn start(dir: &Path, port: u16) -> FtpCamera {
        let clips = grey_clips(dir, CLIP_LEVELS, CLIP_S);
        let stop = Arc::new(AtomicBool::new(false));
        let delivered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, d) = (stop.clone(), delivered.clone());
        let thread = std::thread::spawn(move || ftp_camera(&clips, port, &s, &d));
        FtpCamera {
            stop,
            delivered,
            thread,
        }
    }

    fn delivered(&self) -> usize {
        self.delivered.load(Ordering::SeqCst)
    }

    /// Stops after the clip under way is acknowledged; returns how many were.
    fn finish(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        self.delivered.load(Ordering::SeqCst)
    }
}

fn ftp_camera(
    clips: &[PathBuf],
    port: u16,
    stop: &AtomicBool,
    delivered: &std::sync::atomic::AtomicUsize,
) {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 22)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let name = (base + chrono::Duration::seconds(4 * i as i64))
            .format("cam1_%Y%m%d_%H%M%S.mp4")
            .to_string();
        loop {
            let r = run(Command::new("curl")
                .args(["-sS", "--max-time", "30", "-T"])
                .arg(&clips[i % CLIP_LEVELS])
                .arg(format!("ftp://cam1:{FTP_PASSWORD}@127.0.0.1:{port}/{name}")));
            if r.code == 0 {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        i += 1;
        delivered.store(i, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(4));
    }
}

fn relay_status(vm: &Vm) -> serde_json::Value {
    let out = vm.sh(&format!(
        "camvault --config {DATA}/camvault.toml status --json"
    ));
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["relay"].clone()
}

/// Once the camera stops and the relay has sent what is left, camvault stops (closing the
/// last session) and nginx's recordings are read: every clip acknowledged to the camera
/// arrived whole at least once, in order, none skipped, and none twice but the clip in flight
/// at a cut. Returns (clips delivered, clips sent again, sessions that broke since the last cut).
fn check_relay(camera: FtpCamera, vm: &Vm, nginx: &Nginx) -> (usize, usize, usize) {
    let delivered = camera.finish();
    vm.wait_until(
        "the relay to send every clip",
        Duration::from_secs(300),
        &format!("test -z \"$(find {DATA}/inbox -maxdepth 1 -type f)\""),
    );
    let lost = relay_trouble(vm, "since the last cut");
    let relay = relay_status(vm);
    assert_eq!(relay["failed"], 0, "the relay gave up on no clip: {relay}");
    vm.sh("systemctl stop camvault");
    let recordings = nginx.closed_sessions(Duration::from_secs(30));
    let got = received_clips(&recordings, CLIP_LEVELS).unwrap_or_else(|e| panic!("relay: {e}"));
    let broken = got.not_whole(delivered, CLIP_S);
    assert!(
        broken.is_empty(),
        "clips acknowledged to the camera that never reached nginx whole (clip, longest s of {CLIP_S}): {broken:?}; {} sessions",
        recordings.len()
    );
    assert!(
        got.longest.keys().all(|i| *i < delivered),
        "nginx got clips the camera never delivered: {:?}",
        got.longest.keys().rev().take(3).collect::<Vec<_>>()
    );
    eprintln!(
        "relay: {delivered} clips in {} sessions, sent again: {:?}",
        recordings.len(),
        got.again
    );
    (delivered, got.again.len(), lost)
}

/// Prints what the relay logged of trouble this boot ([`RELAY_TROUBLE`]); returns how many
/// sessions broke.
fn relay_trouble(vm: &Vm, when: &str) -> usize {
    let said = vm.ssh(RELAY_TROUBLE).stdout;
    if !said.trim().is_empty() {
        eprintln!("{when}, the relay said:\n{}", said.trim_end());
    }
    said.matches("session lost").count()
}

/// camvault runs and both cameras record (so start-up recovery is done).
fn wait_recording(vm: &Vm) {
    let probe = format!(
        "camvault --config {DATA}/camvault.toml status --json | tr -d ' \\n' | grep -o '\"state\":\"recording\"' | wc -l | grep -qx {}",
        CAMERAS.len()
    );
    vm.wait_until(
        "both cameras recording",
        Duration::from_secs(300),
        &format!("systemctl is-active -q camvault && {probe}"),
    );
}

/// The store as camvault left it after recovery: a copy of the database and its WAL, and hard
/// links to every recording (in [`HELD`]), taken in the second camvault is frozen (SIGSTOP to
/// its main process, so it neither writes the store nor deletes a file meanwhile; ffmpeg goes
/// on; a longer freeze would meet systemd's watchdog). The copy is opened on the host and its
/// integrity checked first.
fn store_after_cut(vm: &Vm, dir: &Path) -> Vec<Row> {
    let copy = dir.join("store-copy");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    let out = vm
        .ssh_command(
            &[],
            &format!(
                "systemctl kill --kill-whom=main -s STOP camvault && rm -rf {DATA}/{HELD} && \
             cp -al {DATA}/recordings {DATA}/{HELD} && \
             tar -C {DATA} -cf - camvault.db $(cd {DATA} && ls camvault.db-wal 2>/dev/null); \
             systemctl kill --kill-whom=main -s CONT camvault"
            ),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    untar(&out.stdout, &copy);

    let db = rusqlite::Connection::open(copy.join("camvault.db")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "the database after the cut");
    let mut q = db
        .prepare(
            "SELECT c.name, s.path, s.start_ms, s.end_ms, s.duration_ms, s.bytes, s.state,
                    s.delete_reason, j.state, j.object_key
             FROM segment s JOIN camera c ON c.id = s.camera_id
             LEFT JOIN upload_job j ON j.segment_id = s.id
             WHERE s.kind = 'continuous' ORDER BY s.start_ms",
        )
        .unwrap();
    q.query_map([], |r| {
        Ok(Row {
            camera: r.get(0)?,
            path: r.get(1)?,
            start_ms: r.get(2)?,
            end_ms: r.get(3)?,
            duration_ms: r.get(4)?,
            bytes: r.get(5)?,
            state: r.get(6)?,
            delete_reason: r.get(7)?,
            job: r.get(8)?,
            key: r.get(9)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// `names` (relative to `root` in the guest) copied into `into` on the host, by tar over SSH.
fn copy_from_vm(vm: &Vm, root: &str, names: &[String], into: &Path) {
    let out = vm
        .ssh_command(
            &[],
            &format!(
                "tar --warning=no-file-changed -C {root} -cf - {}",
                names.join(" ")
            ),
        )
        .output()
        .unwrap();
    // Exit 1 is tar's "file changed as we read it": retention unlinking the file's other name
    // meanwhile changes its ctime, not its bytes (the copy's MD5 is checked against the bucket).
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && out.stderr.is_empty(),
        "tar in the guest: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    untar(&out.stdout, into);
}

fn untar(bytes: &[u8], into: &Path) {
    use std::io::Write;
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(into)
        .arg("-xf")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tar.stdin.take().unwrap().write_all(bytes).unwrap();
    assert!(tar.wait().unwrap().success());
}

fn release(vm: &Vm) {
    vm.sh(&format!("rm -rf {DATA}/{HELD}"));
}

/// The files against the store; returns the footage each camera lost at the cut (ms).
fn check(
    vm: &Vm,
    dir: &Path,
    rows: &[Row],
    cut_ms: i64,
    ledger: &mut Ledger,
) -> BTreeMap<String, i64> {
    let on_disk: HashMap<String, i64> = vm
        .sh(&format!(
            "cd {DATA}/{HELD} && find . -name '*.mp4' -printf '%P %s\\n'"
        ))
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(p, s)| (format!("recordings/{p}"), s.parse().unwrap()))
        .collect();
    let by_path: HashMap<&str, &Row> = rows.iter().map(|r| (r.path.as_str(), r)).collect();

    // Every closed segment is there whole, plays for the duration the store gives, and is
    // queued for upload (or uploaded).
    let new: Vec<&Row> = rows
        .iter()
        .filter(|r| r.state == "closed" && !ledger.contains_key(&r.path))
        .collect();
    for r in rows.iter().filter(|r| r.state == "closed") {
        assert_eq!(
            on_disk.get(&r.path).copied(),
            r.bytes,
            "closed segment {} on the card, whole",
            r.path
        );
        assert!(
            r.job.is_some(),
            "closed segment {} has its upload job",
            r.path
        );
    }
    // Probed and hashed on the host, from a copy: the guest's CPU is emulated and slow.
    if !new.is_empty() {
        let local = dir.join("new-segments");
        let _ = std::fs::remove_dir_all(&local);
        std::fs::create_dir_all(&local).unwrap();
        let rel = |r: &Row| r.path.replacen("recordings/", "", 1);
        let names: Vec<String> = new.iter().map(|r| rel(r)).collect();
        copy_from_vm(vm, &format!("{DATA}/{HELD}"), &names, &local);
        for r in new {
            let file = local.join(rel(r));
            let md5 = run(Command::new("md5sum").arg(&file)).stdout;
            let md5 = md5
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            assert_eq!(md5.len(), 32, "md5sum {}", file.display());
            let fmt = ffprobe(
                &file,
                &["-show_entries", "format=duration", "-of", "csv=p=0"],
            );
            let probed: f64 = fmt
                .lines()
                .next()
                .unwrap_or_default()
                .parse()
                .unwrap_or_else(|_| panic!("{} does not play: {fmt:?}", r.path));
            let stored = r.duration_ms.unwrap() as f64 / 1000.0;
            assert!(
                (probed - stored).abs() <= 0.5,
                "{} plays {probed} s, the store says {stored} s",
                r.path
            );
            ledger.insert(r.path.clone(), (r.bytes.unwrap(), md5));
        }
    }
    // No closed segment lost: each one seen closed before is still closed and unchanged, or
    // was deleted by retention after its upload.
    for (path, (bytes, _)) in ledger.iter() {
        let r = by_path
            .get(path.as_str())
            .unwrap_or_else(|| panic!("{path}: closed before the cut, gone from the store"));
        match r.state.as_str() {
            "closed" => assert_eq!(r.bytes, Some(*bytes), "{path} unchanged"),
            "deleted" => {
                assert!(
                    matches!(r.delete_reason.as_deref(), Some("evicted" | "uploaded")),
                    "{path} deleted for {:?}, not after its upload",
                    r.delete_reason
                );
                assert_eq!(
                    r.job.as_deref(),
                    Some("done"),
                    "{path} deleted before its upload"
                );
                assert!(
                    !on_disk.contains_key(path),
                    "{path} deleted, still on the card"
                );
            }
            s => panic!("{path}: closed before the cut, now {s}"),
        }
    }
    for r in rows.iter().filter(|r| r.state == "deleted") {
        assert_eq!(
            r.job.as_deref(),
            Some("done"),
            "{} deleted ({:?}) before its upload",
            r.path,
            r.delete_reason
        );
    }
    // A file opened at the cut holds at most its header: nothing to play, so quarantined.
    // Anything with a fragment of footage in it must have been recovered.
    let bad: Vec<_> = rows
        .iter()
        .filter(|r| r.state == "quarantined" && r.bytes.unwrap_or(0) > 16 << 10)
        .collect();
    assert!(bad.is_empty(), "footage quarantined after a cut: {bad:?}");
    // The footage each camera lost: from the end of the last footage that started before the
    // cut (the recovered open segment, or the one closed just before) to the cut.
    let mut losses = BTreeMap::new();
    for cam in CAMERAS {
        let end = rows
            .iter()
            .filter(|r| r.camera == cam && r.start_ms <= cut_ms)
            .filter_map(|r| r.end_ms)
            .max()
            .unwrap_or_else(|| panic!("{cam}: nothing recorded before the cut"));
        let lost = (cut_ms - end).max(0);
        assert!(
            lost <= (FRAGMENT_S + 1) * 1000,
            "{cam} lost {lost} ms of footage at the cut (at most {} s):\n{}",
            FRAGMENT_S + 1,
            vm.ssh("journalctl -b -1 --no-pager -u camvault | tail -n 20; journalctl -b --no-pager -u camvault | head -n 40")
                .stdout
        );
        losses.insert(cam.to_string(), lost);
    }
    losses
}

/// Every object in the bucket is its segment, byte for byte, and the server completed each
/// upload once.
fn check_bucket(
    garage: &Garage,
    (objects, objects_after): (&str, &str),
    proxy: &FaultProxy,
    rows: &[Row],
    ledger: &Ledger,
    verified: &mut HashMap<String, String>,
) {
    let by_key: HashMap<&str, &Row> = rows
        .iter()
        .filter_map(|r| r.key.as_deref().map(|k| (k, r)))
        .collect();
    for line in objects.lines() {
        let (key, size) = line.rsplit_once(' ').unwrap();
        if verified.contains_key(key) {
            continue;
        }
        let r = by_key.get(key).unwrap_or_else(|| {
            let name = key.rsplit('/').next().unwrap_or(key);
            panic!(
                "object {key} is no segment's; rows of that name: {:?}; keys: {:?}",
                rows.iter()
                    .filter(|r| r.path.ends_with(name))
                    .collect::<Vec<_>>(),
                by_key.keys().take(5).collect::<Vec<_>>()
            )
        });
        assert_eq!(Some(size.parse().unwrap()), r.bytes, "{key}: size");
        // Compared with the MD5 the test took of the file on the card; a segment uploaded and
        // evicted between two checks was never seen by the test and is judged by size alone.
        match ledger.get(&r.path) {
            Some((_, local)) => {
                let md5 = garage.tool(&["md5", key]).trim().to_string();
                assert_eq!(&md5, local, "{key} is byte-identical to {}", r.path);
                verified.insert(key.to_string(), md5);
            }
            None if r.state == "deleted" => {
                verified.insert(key.to_string(), String::new());
            }
            None => {}
        }
    }
    let listed: std::collections::HashSet<&str> = objects_after
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, _)| k)
        .collect();
    for r in rows.iter().filter(|r| r.job.as_deref() == Some("done")) {
        let key = r.key.as_deref().unwrap();
        assert!(listed.contains(key), "{key}: done, not in the bucket");
    }
    // A PUT of a whole object or the completion of a multipart one, acknowledged: once each.
    let completed = proxy.completions();
    let twice: Vec<_> = completed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "uploads completed twice: {twice:?}");
}
