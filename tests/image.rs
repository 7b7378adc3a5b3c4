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

impl Vm {
    /// Waits until the VM runs slot `slot` (U-Boot's `rauc.slot=` on the kernel line): SSH
    /// drops while it reboots, which is fine.
    fn wait_rebooted_into(&self, slot: &str) {
        let start = Instant::now();
        let probe = format!("grep -q 'rauc.slot={slot} ' /proc/cmdline");
        while self.ssh(&probe).code != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(900),
                "no boot into slot {slot}; console:\n{}",
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
fn the_image_boots_applies_the_card_config_records_uploads_and_updates_itself() {
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
         [mqtt]\nurl = \"mqtt://{BROKER_USER}:{BROKER_PASS}@10.0.2.2:{}\"\nhealth_interval_seconds = 5\n\n\
         [ota]\ncommit_timeout_minutes = 2\n",
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

    // A normal start marks the running slot good: U-Boot's try counter is full again.
    vm.wait_until(
        "slot A marked good",
        Duration::from_secs(60),
        "fw_printenv BOOT_A_LEFT | grep -qx BOOT_A_LEFT=3",
    );

    // The update: a v2 bundle through `cmd/ota`, interrupted once, installs into slot B,
    // reboots, and commits once the device records, talks MQTT and uploads again. The vivid
    // camera is done with; it is unloaded so the gate does not wait for a module load.
    vm.sh("modprobe -r vivid");
    let ota = Ota::prepare(dir.path(), &broker, &id);
    ota.refusals(&vm);
    ota.update_with_an_interrupted_download(&vm);
    vm.wait_rebooted_into("B");
    assert!(
        vm.sh("findmnt -no SOURCE /").ends_with("3"),
        "root is partition 3"
    );
    let state = ota.wait_state("committed", Duration::from_secs(420), &vm);
    assert_eq!(state["installed_version"], ota.v2, "{state}");
    assert_eq!(vm.sh("cat /etc/camvault/release"), ota.v2);
    assert_eq!(vm.sh("cat /var/lib/camvault/ota-epoch"), "1");
    assert!(
        vm.sh("fw_printenv BOOT_B_LEFT").ends_with("=3"),
        "B is marked good"
    );
    assert!(
        !vm.sh("ls /var/lib/camvault/ota").contains("raucb"),
        "the bundle is gone"
    );
    // Same device, same data: slot B took over the config and the footage of slot A.
    assert!(
        vm.sh("cat /var/lib/camvault/camvault.toml")
            .contains(&format!("id = \"{id}\""))
    );
    assert!(vm.sh("ls /var/lib/camvault/recordings").contains("pattern"));
    // Home Assistant's update entity reads the retained `ota` state and installs by cmd/ota.
    let update: serde_json::Value =
        serde_json::from_str(&ota.retained(&format!("homeassistant/update/{id}/firmware/config")))
            .unwrap();
    assert_eq!(
        update["state_topic"],
        format!("camvault/{id}/ota"),
        "{update}"
    );
    assert_eq!(
        update["command_topic"],
        format!("camvault/{id}/cmd/ota"),
        "{update}"
    );

    // The bad config put on the card before the update was refused at this boot; the
    // device goes on with its last good one and says why on the card and over MQTT.
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

    // Below the security epoch now committed: refused.
    let r = ota.ask(&ota.small("camvault-qemu-arm64", &ota.v3, 0, false));
    assert!(
        r["error"].as_str().unwrap().contains("epoch 0 is below 1"),
        "{r}"
    );

    // A release whose ffmpeg is broken: it installs and boots, records nothing, and the gate
    // rolls it back to slot B within the commit timeout; recording goes on there.
    let r = ota.ask(&ota.broken);
    assert_eq!(r["ok"], true, "{r}");
    vm.wait_rebooted_into("A");
    vm.wait_rebooted_into("B");
    let state = ota.wait_state("rolled_back", Duration::from_secs(300), &vm);
    assert!(
        state["reason"].as_str().unwrap().contains("camera pattern"),
        "the failed check is named: {state}"
    );
    assert_eq!(state["installed_version"], ota.v2, "{state}");
    assert_eq!(vm.sh("cat /etc/camvault/release"), ota.v2);
    assert!(
        vm.sh("fw_printenv BOOT_A_LEFT").ends_with("=0"),
        "A is marked bad"
    );
    let before = vm.sh("ls -R /var/lib/camvault/recordings | grep -c mp4");
    vm.wait_until(
        "a new segment on slot B after the rollback",
        Duration::from_secs(120),
        &format!("test $(ls -R /var/lib/camvault/recordings | grep -c mp4) -gt {before}"),
    );
    let _ = vm.ssh("systemctl poweroff");
    let on_card = boot_partition_files(&disk);
    assert!(!on_card.contains("s3.secret"), "{on_card}");
}

/// A bundle on the host's file server, as `cmd/ota` names it.
struct Offered {
    name: String,
    sha256: String,
    version: String,
}

/// The update side of the test: bundles built on the host (the image's own slot, re-versioned
/// by `make bundle`; small ones for the refusals), served by nginx, asked for over MQTT.
struct Ota {
    dir: PathBuf,
    www: PathBuf,
    server: FileServer,
    broker_port: u16,
    id: String,
    v2: String,
    v3: String,
    good: Offered,
    broken: Offered,
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn make_bundle(version: &str, epoch: u32, rootfs: Option<&Path>) -> PathBuf {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("flash/bundle.sh"));
    cmd.args(["qemu-arm64", version, &epoch.to_string()]);
    if let Some(r) = rootfs {
        cmd.env("CAMVAULT_BUNDLE_ROOTFS", r);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "make bundle {version}: {}", r.stderr);
    PathBuf::from(r.stdout.trim())
}

impl Ota {
    fn prepare(dir: &Path, broker: &Broker, id: &str) -> Ota {
        let dir = dir.join("ota");
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        let v = camvault::VERSION;
        let (v2, vb, v3) = (format!("{v}.1"), format!("{v}.2"), format!("{v}.3"));
        let good = make_bundle(&v2, 1, None);
        // The broken release: its ffmpeg runs but fails, so no camera can record.
        let slot = Path::new(env!("CARGO_MANIFEST_DIR")).join("out/work-qemu-arm64/rootfs.ext4");
        let broken_slot = dir.join("broken.ext4");
        std::fs::copy(&slot, &broken_slot).unwrap();
        let script = dir.join("ffmpeg");
        write(
            &script,
            "#!/bin/sh\necho 'this ffmpeg is broken' >&2\nexit 1\n",
        );
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for req in [
            "rm /usr/bin/ffmpeg".to_string(),
            format!("write {} /usr/bin/ffmpeg", script.display()),
        ] {
            let r = run(Command::new("debugfs")
                .args(["-w", "-R", &req])
                .arg(&broken_slot));
            assert_eq!(r.code, 0, "debugfs {req}: {}", r.stderr);
        }
        let broken = make_bundle(&vb, 1, Some(&broken_slot));
        // 4 MiB/s: slow enough to cut the first download part way.
        let server = FileServer::start(&dir, &www, 4 << 20);
        let mut ota = Ota {
            dir: dir.clone(),
            www,
            server,
            broker_port: broker.port,
            id: id.to_string(),
            v2: v2.clone(),
            v3,
            good: Offered {
                name: String::new(),
                sha256: String::new(),
                version: String::new(),
            },
            broken: Offered {
                name: String::new(),
                sha256: String::new(),
                version: String::new(),
            },
        };
        ota.good = ota.offer(&good, &v2);
        ota.broken = ota.offer(&broken, &vb);
        ota
    }

    fn offer(&self, bundle: &Path, version: &str) -> Offered {
        let name = bundle.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(bundle, self.www.join(&name)).unwrap();
        Offered {
            sha256: sha256_of(bundle),
            name,
            version: version.to_string(),
        }
    }

    /// A small bundle (4 MiB slot): enough for every refusal, which comes before a write.
    fn small(&self, compatible: &str, version: &str, epoch: u32, other_key: bool) -> Offered {
        let signer = if other_key {
            key_pair(&self.dir, "other")
        } else {
            let cache = std::env::var_os("CAMVAULT_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/camvault")
                });
            (
                cache.join("ota-dev/cert.pem"),
                cache.join("ota-dev/key.pem"),
            )
        };
        let b = bundle(&self.dir, &signer, compatible, version, epoch);
        self.offer(&b, version)
    }

    fn mqtt(&self, args: &[&str]) -> Command {
        let mut c = Command::new("mosquitto_sub");
        c.args(["-h", "127.0.0.1", "-p", &self.broker_port.to_string()])
            .args(["-u", BROKER_USER, "-P", BROKER_PASS])
            .args(args);
        c
    }

    fn retained(&self, topic: &str) -> String {
        run(&mut self.mqtt(&["-t", topic, "-C", "1", "-W", "20"])).stdout
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.retained(&format!("camvault/{}/ota", self.id)))
            .unwrap_or_default()
    }

    fn publish(&self, o: &Offered) {
        let payload = serde_json::json!({
            "url": format!("http://10.0.2.2:{}/{}", self.server.port, o.name),
            "sha256": o.sha256,
            "version": o.version,
        });
        let r = run(Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.broker_port.to_string()])
            .args(["-u", BROKER_USER, "-P", BROKER_PASS])
            .args(["-t", &format!("camvault/{}/cmd/ota", self.id)])
            .args(["-m", &payload.to_string()]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }

    /// `cmd/ota` for `o`, and its reply.
    fn ask(&self, o: &Offered) -> serde_json::Value {
        let reply = self
            .mqtt(&[
                "-t",
                &format!("camvault/{}/cmd/ota/reply", self.id),
                "-C",
                "1",
                "-W",
                "900",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(1));
        self.publish(o);
        let out = reply.wait_with_output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no reply to cmd/ota ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    fn wait_state(&self, state: &str, timeout: Duration, vm: &Vm) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let s = self.state();
            if s["state"] == state {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "ota state {state}: still {s} after {timeout:?}\n{}",
                vm.ssh("journalctl -b --no-pager -u camvault | grep -i ota | tail -n 30")
                    .stdout
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Each refused with its reason, and nothing written: no update record, the boot order
    /// untouched.
    fn refusals(&self, vm: &Vm) {
        let signed = self.small("camvault-qemu-arm64", &self.v2, 1, false);
        let tampered = self.dir.join("tampered.raucb");
        tamper_manifest(&self.www.join(&signed.name), &self.v2, &tampered);
        let tampered = self.offer(&tampered, &self.v2);
        let cases = [
            (
                self.small("camvault-qemu-arm64", &self.v2, 1, true),
                "signature does not check out",
            ),
            (tampered, "signature does not check out"),
            (
                self.small("camvault-rpi4", &self.v2, 1, false),
                "camvault-rpi4",
            ),
            (
                self.small("camvault-qemu-arm64", "0.0.1", 1, false),
                "not newer",
            ),
        ];
        for (offer, why) in &cases {
            let r = self.ask(offer);
            assert_eq!(r["ok"], false, "{}: {r}", offer.name);
            assert!(
                r["error"].as_str().unwrap().contains(why),
                "{}: {r}",
                offer.name
            );
        }
        assert_eq!(self.state()["state"], "refused");
        assert!(vm.ssh("test -e /var/lib/camvault/ota/pending.json").code != 0);
        assert_eq!(vm.sh("fw_printenv -n BOOT_ORDER"), "A B");
    }

    /// The first download is cut by a kill -9 of camvault part way; the command sent again
    /// continues it with a Range request, and the bundle is accepted.
    fn update_with_an_interrupted_download(&self, vm: &Vm) {
        self.publish(&self.good);
        let start = Instant::now();
        loop {
            let s = self.state();
            if s["state"] == "downloading" && s["update_percentage"].as_u64().unwrap_or(0) >= 20 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no download progress: {s}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        vm.sh("systemctl kill -s KILL camvault");
        vm.wait_until(
            "camvault back after kill -9",
            Duration::from_secs(120),
            "systemctl is-active -q camvault",
        );
        std::thread::sleep(Duration::from_secs(5));
        let r = self.ask(&self.good);
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["result"]["accepted"], true, "{r}");
        let reqs = self.server.requests();
        let resumed = reqs
            .iter()
            .find(|(status, _, range)| *status == 206 && range.starts_with("bytes="))
            .unwrap_or_else(|| panic!("a Range request answered 206: {reqs:?}"));
        let size = std::fs::metadata(self.www.join(&self.good.name))
            .unwrap()
            .len();
        assert!(resumed.1 < size, "only the rest was sent: {reqs:?}");
        eprintln!("bundle {size} bytes; downloads {reqs:?}");
    }
}
