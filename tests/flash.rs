//! flash/flash.sh, the card writer: it writes with bmaptool and verifies, and refuses the
//! dangerous targets. Disks are fixtures: a fake /sys/block and /proc/mounts, and regular
//! files standing in for the devices.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

const MIB: u64 = 1024 * 1024;

/// A small sparse "image" with data at both ends, and its .bmap.
fn image(dir: &Path) -> PathBuf {
    let img = dir.join("camvault-test.img");
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(8 * MIB).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&[0xAB; 4096], 0).unwrap();
    f.write_all_at(b"camvault data at the end", 8 * MIB - 4096)
        .unwrap();
    let r = run(Command::new("bmaptool")
        .args(["create", "-o"])
        .arg(img.with_extension("img.bmap"))
        .arg(&img));
    assert_eq!(r.code, 0, "{}", r.stderr);
    img
}

/// A fake /sys with one disk `name` of `bytes`, removable or not, and a model.
fn disk(sys: &Path, name: &str, bytes: u64, removable: bool) {
    let d = sys.join("block").join(name);
    std::fs::create_dir_all(d.join("device")).unwrap();
    std::fs::write(d.join("size"), format!("{}\n", bytes / 512)).unwrap();
    std::fs::write(d.join("removable"), if removable { "1\n" } else { "0\n" }).unwrap();
    std::fs::write(d.join("device/model"), "Card Reader    \n").unwrap();
    std::fs::create_dir_all(sys.join("class/block")).unwrap();
}

/// A partition `part` of `disk` in the fake /sys (class/block/<part> → block/<disk>/<part>).
fn partition(sys: &Path, disk: &str, part: &str) {
    let p = sys.join("block").join(disk).join(part);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("partition"), "1\n").unwrap();
    std::os::unix::fs::symlink(&p, sys.join("class/block").join(part)).unwrap();
}

fn flash(dir: &Path, img: &Path, target: &Path, args: &[&str], answer: &str) -> Run {
    let mut child = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/flash/flash.sh"))
        .arg(img)
        .arg(target)
        .args(args)
        .env("CAMVAULT_SYS", dir.join("sys"))
        .env("CAMVAULT_MOUNTS", dir.join("mounts"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(answer.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn writes_and_verifies_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = image(d);
    let sys = d.join("sys");
    for (name, bytes, removable) in [
        ("sdr", 16 * MIB, false), // holds /
        ("sdm", 16 * MIB, true),  // a partition is mounted
        ("sds", 4 * MIB, true),   // too small
        ("sdf", 16 * MIB, false), // a fixed disk
        ("sdc", 16 * MIB, true),  // the card
    ] {
        disk(&sys, name, bytes, removable);
    }
    partition(&sys, "sdr", "sdr2");
    partition(&sys, "sdm", "sdm1");
    write(
        &d.join("mounts"),
        "proc /proc proc rw 0 0\n/dev/sdr2 / ext4 rw 0 0\n/dev/sdm1 /media/card vfat rw 0 0\n",
    );
    // The "devices" are files named like the disks.
    let dev = |n: &str| {
        let p = d.join("dev").join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(16 * MIB).unwrap();
        p
    };
    let refused = |name: &str, args: &[&str], needle: &str| {
        let target = dev(name);
        let r = flash(d, &img, &target, args, "yes\n");
        assert_eq!(r.code, 1, "{name}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{name}: {}", r.stderr);
        let untouched = std::fs::read(&target).unwrap();
        assert!(untouched.iter().all(|b| *b == 0), "{name} was written");
    };
    refused("sdr", &["--yes", "--force"], "holds the running system");
    refused(
        "sdm",
        &["--yes"],
        "mounted partition (/dev/sdm1 on /media/card)",
    );
    refused("sds", &["--yes"], "smaller than the image");
    refused("sdf", &["--yes"], "not a removable disk");

    // The card: it says what it will overwrite, and "no" writes nothing.
    let card = dev("sdc");
    let r = flash(d, &img, &card, &[], "no\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("Card Reader") && r.stdout.contains("16MiB"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("nothing written"));
    let r = flash(d, &img, &card, &[], "yes\n");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let (want, got) = (std::fs::read(&img).unwrap(), std::fs::read(&card).unwrap());
    assert_eq!(&got[..want.len()], &want[..], "the card holds the image");
    // A fixed disk only with --force.
    let fixed = dev("sdf");
    let r = flash(d, &img, &fixed, &["--yes", "--force"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A regular file target (no /sys entry), and no .bmap: refused with the reason.
    let file = d.join("copy.img");
    let r = flash(d, &img, &file, &["--yes"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), want);
    std::fs::remove_file(img.with_extension("img.bmap")).unwrap();
    let r = flash(d, &img, &file, &["--yes"], "");
    assert!(r.code != 0 && r.stderr.contains(".bmap"), "{}", r.stderr);
}
