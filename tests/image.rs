//! The qemu-arm64 card image, booted as the appliance boots: qemu-system-aarch64 `-M virt` with
//! Debian's u-boot-qemu as firmware, the image as a virtio disk, user-mode networking to the
//! host's Garage and mosquitto. The user's config goes onto the FAT partition as a user would
//! put it there. `make test` builds the image first (`make image`, cached).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn image() -> PathBuf {
    let version = camvault::VERSION;
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("out")
        .join(format!("camvault-{version}-qemu-arm64.img"));
    assert!(
        p.exists(),
        "no {}: `make image` builds it (make test does)",
        p.display()
    );
    p
}

fn tool(script: &str) -> PathBuf {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The byte offset of partition `n` (1-based) of a disk image.
fn partition_offset(disk: &Path, n: usize) -> u64 {
    let out = Command::new("sfdisk").arg("-J").arg(disk).output().unwrap();
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    t["partitiontable"]["partitions"][n - 1]["start"]
        .as_u64()
        .unwrap()
        * 512
}

/// Copies `files` (name, contents) onto the boot partition of `disk`, as from a PC.
fn put_on_boot_partition(disk: &Path, files: &[(&str, &str)], dir: &Path) {
    let at = format!("{}@@{}", disk.display(), partition_offset(disk, 1));
    for (name, body) in files {
        let local = dir.join(name);
        std::fs::write(&local, body).unwrap();
        let r = run(Command::new("mcopy")
            .args(["-o", "-i", &at])
            .arg(&local)
            .arg(format!("::/{name}")));
        assert_eq!(r.code, 0, "mcopy {name}: {}", r.stderr);
    }
}

fn boot_partition_files(disk: &Path) -> String {
    let at = format!("{}@@{}", disk.display(), partition_offset(disk, 1));
    run(Command::new("mdir").args(["-b", "-i", &at, "::/"])).stdout
}

/// The VM: its console goes to a file; SSH (root, key only) is forwarded to a host port.
struct Vm {
    child: Child,
    console: PathBuf,
    ssh_port: u16,
    key: PathBuf,
}

impl Vm {
    fn boot(disk: &Path, dir: &Path, key: &Path) -> Vm {
        let qemu = tool("scripts/qemu-system.sh");
        let share = qemu.parent().unwrap().join("../share/qemu");
        let ssh_port = free_port();
        let console = dir.join(format!("console-{ssh_port}.log"));
        let child = Command::new(&qemu)
            .args([
                "-M",
                "virt,acpi=off",
                "-cpu",
                "cortex-a72",
                "-m",
                "1024",
                "-smp",
                "2",
            ])
            .arg("-L")
            .arg(&share)
            .args(["-bios", "/usr/lib/u-boot/qemu_arm64/u-boot.bin"])
            .arg("-drive")
            .arg(format!(
                "if=virtio,file={},format=raw,cache=unsafe",
                disk.display()
            ))
            .arg("-netdev")
            .arg(format!("user,id=n,hostfwd=tcp:127.0.0.1:{ssh_port}-:22"))
            .args(["-device", "virtio-net-pci,netdev=n,romfile="])
            .args(["-display", "none", "-monitor", "none"])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-aarch64");
        Vm {
            child,
            console,
            ssh_port,
            key: key.to_path_buf(),
        }
    }

    fn console(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.console).unwrap_or_default()).into_owned()
    }

    fn ssh(&self, cmd: &str) -> Run {
        run(Command::new("ssh").arg("-i").arg(&self.key).args([
            "-p",
            &self.ssh_port.to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            cmd,
        ]))
    }

    /// Output of a command that must succeed.
    fn sh(&self, cmd: &str) -> String {
        let r = self.ssh(cmd);
        assert_eq!(r.code, 0, "{cmd}: {}{}", r.stdout, r.stderr);
        r.stdout.trim().to_string()
    }

    /// Waits for `cmd` to succeed; on timeout the failure shows what first boot and camvault
    /// logged, and any error first boot left on the card.
    fn wait_until(&self, what: &str, timeout: Duration, cmd: &str) {
        let start = Instant::now();
        while self.ssh(cmd).code != 0 {
            if start.elapsed() > timeout {
                let why = self.ssh(
                    "journalctl -b --no-pager -u camvault-firstboot -u camvault | tail -n 60; \
                     cat /boot/firmware/camvault-error.txt 2>/dev/null",
                );
                panic!(
                    "{what}: not after {timeout:?}:\n{}{}",
                    why.stdout, why.stderr
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    fn wait_ssh(&mut self, what: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("qemu exited ({s}); console:\n{}", self.console());
            }
            if self.ssh("true").code == 0 {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{what}: no SSH after {timeout:?}; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_secs(3));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_image_boots_slot_a_applies_the_card_config_records_uploads_and_falls_back_to_b() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let broker = Broker::start(dir.path(), None);
    let disk = dir.path().join("disk.img");
    let r = run(Command::new("cp")
        .args(["--sparse=always"])
        .arg(image())
        .arg(&disk));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Flashed onto a card larger than the image: `data` grows into the rest on first boot.
    let r = run(Command::new("truncate").args(["-s", "+2G"]).arg(&disk));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = dir.path().join("id_ed25519");
    let r = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();

    // What a user writes onto the card from a PC: the config, a secret by bare name, a key.
    let config = format!(
        "[recording]\nsegment_seconds = 10\nfragment_seconds = 1\n\n\
         [[camera]]\nname = \"pattern\"\nsource = \"test:\"\n\n\
         [[camera]]\nname = \"vivid\"\nsource = \"v4l2:///dev/video0\"\n\n\
         [upload]\ndestination = \"s3\"\nendpoint = \"http://10.0.2.2:{}\"\nregion = \"us-east-1\"\n\
         bucket = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key_file = \"s3.secret\"\n\n\
         [mqtt]\nurl = \"mqtt://{BROKER_USER}:{BROKER_PASS}@10.0.2.2:{}\"\nhealth_interval_seconds = 5\n",
        garage.port, garage.bucket, garage.key_id, broker.port
    );
    put_on_boot_partition(
        &disk,
        &[
            ("camvault.toml", &config),
            ("s3.secret", &garage.secret),
            ("authorized_keys", &public),
        ],
        dir.path(),
    );

    let t0 = Instant::now();
    let mut vm = Vm::boot(&disk, dir.path(), &key);
    vm.wait_ssh("first boot", Duration::from_secs(600));
    let booted = t0.elapsed();
    assert!(
        vm.console().contains("camvault: booting slot A"),
        "U-Boot's script chose slot A:\n{}",
        vm.console()
    );
    assert!(vm.sh("cat /proc/cmdline").contains("rauc.slot=A"));
    // A real V4L2 camera: the vivid driver.
    vm.sh("modprobe vivid n_devs=1 && udevadm settle");

    // camvault runs as its own user, from the card's config, now in data and off the card.
    // camvault starts once first boot has put the card's config into data.
    vm.wait_until(
        "camvault active",
        Duration::from_secs(120),
        "systemctl is-active -q camvault",
    );
    assert_eq!(vm.sh("ps -o user= -C camvault"), "camvault");
    assert_eq!(
        vm.sh("stat -c %a:%U /var/lib/camvault/camvault.toml"),
        "600:camvault"
    );
    let id = vm.sh("sed -n 's/^id = \"\\(.*\\)\"/\\1/p' /var/lib/camvault/camvault.toml");
    assert!(id.starts_with("cv-"), "a device id was generated: {id}");
    assert!(
        vm.sh("grep -c secret_access_key_file /var/lib/camvault/camvault.toml") == "1"
            && vm.sh("stat -c %a /var/lib/camvault/s3.secret") == "600"
    );
    let on_card = vm.sh("ls /boot/firmware");
    assert!(
        !on_card.contains("camvault.toml\n") && !on_card.contains("s3.secret"),
        "the config and its secret are scrubbed from the card: {on_card}"
    );
    assert!(!vm.sh("ls /boot/firmware").contains("camvault-error"));
    assert!(
        vm.sh("findmnt -no OPTIONS /").starts_with("ro"),
        "root is read-only"
    );
    let data_mib: u64 = vm
        .sh("df -m --output=size /var/lib/camvault | tail -n 1")
        .parse()
        .unwrap();
    assert!(
        data_mib > 1500,
        "data grew to fill the card: {data_mib} MiB"
    );
    // The V4L2 devices as the kernel reports them (the v4l crate), capture nodes only.
    let found: serde_json::Value =
        serde_json::from_str(&vm.sh("camvault --config /var/lib/camvault/camvault.toml discover"))
            .unwrap();
    let v4l2 = found["v4l2"].as_array().unwrap();
    assert!(
        v4l2.iter().all(|d| d["name"] != "vivid-000-vid-out"),
        "only capture nodes: {found}"
    );
    let vivid = v4l2
        .iter()
        .find(|d| d["device"] == "/dev/video0")
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(vivid["driver"], "vivid", "{found}");
    assert!(
        vivid["formats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fourcc"] == "YUYV" && f["pixel"] == "yuyv422"),
        "{found}"
    );
    let exposure = vm.sh("systemd-analyze security camvault.service --no-pager | tail -n 1");
    let score: f64 = exposure
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(10.0);
    eprintln!("in-VM {exposure}");
    assert!(score <= 2.0, "{exposure}");

    // Segments of both cameras reach the host's Garage, byte for byte.
    let mut first_segment = None;
    let start = Instant::now();
    let listed = loop {
        let l = garage.tool(&["list"]);
        if first_segment.is_none() && !l.trim().is_empty() {
            first_segment = Some(t0.elapsed());
        }
        if l.contains("/pattern/") && l.contains("/vivid/") {
            break l;
        }
        assert!(
            start.elapsed() < Duration::from_secs(420),
            "segments of both cameras in the bucket: {l}\n{}",
            vm.ssh("journalctl -u camvault --no-pager | tail -n 40")
                .stdout
        );
        std::thread::sleep(Duration::from_secs(5));
    };
    eprintln!(
        "boot to SSH {booted:?}, boot to first segment in the bucket {:?}",
        first_segment.unwrap()
    );
    for line in listed.lines().take(4) {
        let key = line.split_whitespace().next().unwrap();
        let file = key.rsplit('/').next().unwrap();
        let local = vm.sh(&format!(
            "find /var/lib/camvault/recordings -name '{file}' -exec md5sum {{}} + | cut -d' ' -f1"
        ));
        assert_eq!(garage.tool(&["md5", key]).trim(), local, "{key}");
    }

    // MQTT state reaches the host's broker (retained: the latest, at once).
    let sub = || {
        run(Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
            .args(["-u", BROKER_USER, "-P", BROKER_PASS])
            .args(["-t", &format!("camvault/{id}/state"), "-C", "1", "-W", "60"]))
        .stdout
    };
    let state: serde_json::Value = serde_json::from_str(&sub()).unwrap();
    assert_eq!(state["cameras"]["pattern"]["state"], "recording", "{state}");

    // A bad config put on the card later: refused at the next boot, the device goes on with
    // its last good one and says why on the card and over MQTT.
    vm.sh("printf '[recording]\\nsegment_seconds = \"ten\"\\n' >/boot/firmware/camvault.toml");

    // The fallback: slot A out of tries, the next boot takes slot B.
    vm.sh("fw_setenv BOOT_A_LEFT 0");
    assert!(vm.sh("fw_printenv BOOT_A_LEFT").ends_with("=0"));
    let _ = vm.ssh("systemctl reboot");
    std::thread::sleep(Duration::from_secs(10));
    vm.wait_ssh("boot into slot B", Duration::from_secs(600));
    assert!(
        vm.console().contains("camvault: booting slot B"),
        "{}",
        vm.console()
    );
    assert!(vm.sh("cat /proc/cmdline").contains("rauc.slot=B"));
    assert!(
        vm.sh("findmnt -no SOURCE /").ends_with("3"),
        "root is partition 3"
    );
    vm.wait_until(
        "camvault active in slot B",
        Duration::from_secs(120),
        "systemctl is-active -q camvault",
    );
    // Same device, same data: slot B took over the config and the footage of slot A.
    assert!(
        vm.sh("cat /var/lib/camvault/camvault.toml")
            .contains(&format!("id = \"{id}\""))
    );
    assert!(vm.sh("ls /var/lib/camvault/recordings").contains("pattern"));
    let error = vm.sh("cat /boot/firmware/camvault-error.txt");
    assert!(error.contains("recording.segment_seconds"), "{error}");
    assert!(vm.sh("ls /boot/firmware").contains("camvault.toml"));
    wait_for(
        "config_rejected in the MQTT state",
        Duration::from_secs(120),
        || {
            let s = sub();
            let seen = s.contains("config_rejected") && s.contains("recording.segment_seconds");
            if !seen {
                std::thread::sleep(Duration::from_secs(1));
            }
            seen
        },
    );
    let _ = vm.ssh("systemctl poweroff");
    let on_card = boot_partition_files(&disk);
    assert!(!on_card.contains("s3.secret"), "{on_card}");
}
