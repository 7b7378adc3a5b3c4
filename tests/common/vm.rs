//! The card image in qemu-system-aarch64 (`-M virt`, Debian's u-boot-qemu as firmware, the
//! image as a virtio disk, user-mode networking to the host's peers), and the OTA side of the
//! VM tests: bundles built on the host, served by nginx, asked for over MQTT.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

pub fn image() -> PathBuf {
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

pub fn tool(script: &str) -> PathBuf {
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
pub fn partition_offset(disk: &Path, n: usize) -> u64 {
    let out = Command::new("sfdisk").arg("-J").arg(disk).output().unwrap();
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    t["partitiontable"]["partitions"][n - 1]["start"]
        .as_u64()
        .unwrap()
        * 512
}

/// Copies `files` (name, contents) onto the boot partition of `disk`, as from a PC.
pub fn put_on_boot_partition(disk: &Path, files: &[(&str, &str)], dir: &Path) {
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

pub fn boot_partition_files(disk: &Path) -> String {
    let at = format!("{}@@{}", disk.display(), partition_offset(disk, 1));
    run(Command::new("mdir").args(["-b", "-i", &at, "::/"])).stdout
}

/// A card for the VM in `dir`: a copy of the image on a card `grow` larger (`truncate -s`
/// syntax, `+2G`), so `data` grows into the rest on first boot; and an SSH key pair for root.
/// Returns (disk, private key, public key text).
pub fn vm_card(dir: &Path, grow: &str) -> (PathBuf, PathBuf, String) {
    let disk = dir.join("disk.img");
    let r = run(Command::new("cp")
        .args(["--sparse=always"])
        .arg(image())
        .arg(&disk));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(Command::new("truncate").args(["-s", grow]).arg(&disk));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = dir.join("id_ed25519");
    let r = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (disk, key, public)
}

/// The VM: its console goes to a file; SSH (root, key only) is forwarded to a host port.
pub struct Vm {
    pub child: Child,
    pub console: PathBuf,
    pub ssh_port: u16,
    pub key: PathBuf,
    disk: PathBuf,
}

impl Vm {
    /// A VM whose disk writes land in the host's page cache (`cache=unsafe`): fast, and a
    /// kill of qemu still keeps every write the guest issued.
    pub fn boot(disk: &Path, dir: &Path, key: &Path) -> Vm {
        Vm::boot_with(disk, dir, key, "unsafe")
    }

    /// `cache` is qemu's `-drive cache=` mode.
    pub fn boot_with(disk: &Path, dir: &Path, key: &Path, cache: &str) -> Vm {
        Vm::boot_forwarding(disk, dir, key, cache, &[])
    }

    /// As [`Vm::boot_with`], with host ports on 127.0.0.1 forwarded to the guest's:
    /// `(host, guest)` pairs. SSH gets its own.
    pub fn boot_forwarding(
        disk: &Path,
        dir: &Path,
        key: &Path,
        cache: &str,
        forwards: &[(u16, u16)],
    ) -> Vm {
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
                "if=virtio,file={},format=raw,cache={cache}",
                disk.display()
            ))
            .arg("-netdev")
            .arg(
                std::iter::once((ssh_port, 22))
                    .chain(forwards.iter().copied())
                    .fold("user,id=n".to_string(), |net, (host, guest)| {
                        net + &format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}")
                    }),
            )
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
            disk: disk.to_path_buf(),
        }
    }

    pub fn console(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.console).unwrap_or_default()).into_owned()
    }

    pub fn ssh(&self, cmd: &str) -> Run {
        run(&mut self.ssh_command(&["-o", "ConnectTimeout=10"], cmd))
    }

    /// `ssh root@` the VM running `cmd`, key only, host key unchecked (every boot of a test
    /// card is a new host to known_hosts).
    pub fn ssh_command(&self, options: &[&str], cmd: &str) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-i")
            .arg(&self.key)
            .args(["-p", &self.ssh_port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
            .args(options)
            .args(["root@127.0.0.1", cmd]);
        c
    }

    /// Output of a command that must succeed.
    pub fn sh(&self, cmd: &str) -> String {
        let r = self.ssh(cmd);
        assert_eq!(r.code, 0, "{cmd}: {}{}", r.stdout, r.stderr);
        r.stdout.trim().to_string()
    }

    /// Waits for `cmd` to succeed; on timeout the failure shows what first boot and camvault
    /// logged, and any error first boot left on the card.
    pub fn wait_until(&self, what: &str, timeout: Duration, cmd: &str) {
        let start = Instant::now();
        while self.ssh(cmd).code != 0 {
            if start.elapsed() > timeout {
                let why = self.ssh(
                    "journalctl -b --no-pager -u camvault-firstboot -u camvault | tail -n 60; \
                     cat /boot/firmware/camvault-error.txt 2>/dev/null; \
                     camvault --config /var/lib/camvault/camvault.toml status --json 2>&1 | head -c 3000",
                );
                panic!(
                    "{what}: not after {timeout:?}:\n{}{}",
                    why.stdout, why.stderr
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    pub fn wait_ssh(&mut self, what: &str, timeout: Duration) {
        if let Err(why) = self.try_wait_ssh(timeout) {
            panic!("{what}: {why}");
        }
    }

    /// Waits for SSH to answer. If it does not, the VM is switched off and the error tells
    /// what ssh said, the console, and the state of the card's partitions.
    pub fn try_wait_ssh(&mut self, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("qemu exited ({s}); console:\n{}", self.console());
            }
            let tried = self.ssh("true");
            if tried.code == 0 {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                // Off, then the card on the host, as a user would look at it in a PC.
                self.power_off();
                return Err(format!(
                    "no SSH after {timeout:?} (ssh said: {}); console:\n{}\n{}",
                    tried.stderr.trim(),
                    self.console(),
                    card_report(&self.disk)
                ));
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    }

    /// Pulls the plug without asking the guest anything.
    pub fn power_off(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Vm {
    /// Waits until the device runs from `slot`: its kernel command line says so over SSH. A
    /// slot that is rolled back within minutes may be gone again before SSH answers (seen
    /// twice under TCG): U-Boot's script announcing a boot of it, followed by the next boot,
    /// proves it ran too.
    pub fn wait_rebooted_into(&self, slot: &str) {
        let start = Instant::now();
        let line = format!("camvault: booting slot {slot}");
        let before = self.console().matches(&line).count();
        let missed = || {
            let console = self.console();
            console.matches(&line).count() > before
                && console
                    .rfind(&line)
                    .is_some_and(|i| console[i + line.len()..].contains("camvault: booting slot "))
        };
        let probe = format!("grep -q 'rauc.slot={slot} ' /proc/cmdline");
        while !missed() && self.ssh(&probe).code != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(900),
                "no boot into slot {slot}; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_secs(3));
        }
    }
}

impl Vm {
    /// Cuts the power: SIGKILL to qemu, which loses the guest's RAM (its page cache with every
    /// write not yet issued to the disk) and any write in flight. Returns the moment of the
    /// cut on the guest's clock (ms since the epoch): a shell kept open in the guest answers
    /// its time, and the kill follows the answer within milliseconds.
    pub fn cut(&mut self) -> i64 {
        use std::io::{BufRead, Write};
        let mut clock = self
            .ssh_command(&[], "while read -r _; do date +%s%N; done")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = clock.stdin.take().unwrap();
        let mut output = std::io::BufReader::new(clock.stdout.take().unwrap());
        // The first answer pays for the shell's start; the second is the one that counts.
        let mut guest_ns = 0i128;
        for _ in 0..2 {
            input.write_all(b"\n").unwrap();
            input.flush().unwrap();
            let mut line = String::new();
            output.read_line(&mut line).unwrap();
            guest_ns = line
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("guest clock: {line:?}"));
        }
        let answered = Instant::now();
        let _ = self.child.kill();
        let killed = answered.elapsed();
        let _ = self.child.wait();
        let _ = clock.kill();
        let _ = clock.wait();
        (guest_ns / 1_000_000) as i64 + killed.as_millis() as i64
    }
}

/// What a PC would see of the card: the boot partition's files (SSH's keys live there,
/// beside U-Boot's environment, rewritten at every boot) and what `fsck.vfat -n` makes of it,
/// and the state the data partition's ext4 was left in (a check it forces delays the boot).
fn card_report(disk: &Path) -> String {
    let table = run(Command::new("sfdisk").arg("-J").arg(disk));
    let parts: serde_json::Value = serde_json::from_str(&table.stdout).unwrap_or_default();
    let Some(parts) = parts["partitiontable"]["partitions"].as_array() else {
        return format!("no partition table: {}", table.stderr);
    };
    let copy = disk.with_extension("partition");
    let mut report = String::new();
    for (i, part) in parts.iter().enumerate() {
        let (start, size) = (
            part["start"].as_u64().unwrap_or(0),
            part["size"].as_u64().unwrap_or(0),
        );
        let name = part["name"].as_str().unwrap_or("?");
        if i != 0 && name != "data" {
            continue;
        }
        let dd = run(Command::new("dd")
            .arg(format!("if={}", disk.display()))
            .arg(format!("of={}", copy.display()))
            .args(["bs=1M", "iflag=skip_bytes,count_bytes", "status=none"])
            .arg(format!("skip={}", start * 512))
            .arg(format!("count={}", size * 512)));
        let checks = if i == 0 {
            vec![
                run(Command::new("mdir").args(["-a", "-i"]).arg(&copy).arg("::")),
                run(Command::new("fsck.vfat").arg("-n").arg(&copy)),
            ]
        } else {
            vec![
                run(Command::new("dumpe2fs").arg("-h").arg(&copy)),
                run(Command::new("e2fsck").arg("-fn").arg(&copy)),
            ]
        };
        report += &format!("--- partition {name} {}\n", dd.stderr.trim());
        for c in checks {
            report += &c.stdout;
            report += &c.stderr;
        }
    }
    let _ = std::fs::remove_file(&copy);
    report
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bundle on the host's file server, as `cmd/ota` names it.
pub struct Offered {
    pub name: String,
    pub sha256: String,
    pub version: String,
}

/// The update side of the test: bundles built on the host (the image's own slot, re-versioned
/// by `make bundle`; small ones for the refusals), served by nginx, asked for over MQTT.
pub struct Ota {
    pub dir: PathBuf,
    pub www: PathBuf,
    pub server: FileServer,
    pub broker_port: u16,
    pub id: String,
    pub v2: String,
    pub v3: String,
    pub vb: String,
    pub good: Offered,
}

/// `bundle` copied into the file server's folder, as `cmd/ota` will name it.
fn offer_in(www: &Path, bundle: &Path, version: &str) -> Offered {
    let name = bundle.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::copy(bundle, www.join(&name)).unwrap();
    Offered {
        sha256: sha256_of(bundle),
        name,
        version: version.to_string(),
    }
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

pub fn make_bundle(version: &str, epoch: u32, rootfs: Option<&Path>) -> PathBuf {
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
    pub fn prepare(dir: &Path, broker: &Broker, id: &str) -> Ota {
        let dir = dir.join("ota");
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        let v = camvault::VERSION;
        let (v2, vb, v3) = (format!("{v}.1"), format!("{v}.2"), format!("{v}.3"));
        let good = offer_in(&www, &make_bundle(&v2, 1, None), &v2);
        // 4 MiB/s: slow enough to cut the first download part way.
        let server = FileServer::start(&dir, &www, 4 << 20);
        Ota {
            dir: dir.clone(),
            www,
            server,
            broker_port: broker.port,
            id: id.to_string(),
            v2,
            v3,
            vb,
            good,
        }
    }

    /// A release whose ffmpeg runs but fails, so no camera can record.
    pub fn broken_release(&self) -> Offered {
        let slot = Path::new(env!("CARGO_MANIFEST_DIR")).join("out/work-qemu-arm64/rootfs.ext4");
        let broken_slot = self.dir.join("broken.ext4");
        std::fs::copy(&slot, &broken_slot).unwrap();
        let script = self.dir.join("ffmpeg");
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
        let broken = make_bundle(&self.vb, 1, Some(&broken_slot));
        std::fs::remove_file(&broken_slot).unwrap();
        self.offer(&broken, &self.vb)
    }

    /// Another good release, `<version>.3`.
    pub fn second_release(&self) -> Offered {
        let b = make_bundle(&self.v3, 1, None);
        self.offer(&b, &self.v3)
    }

    pub fn offer(&self, bundle: &Path, version: &str) -> Offered {
        offer_in(&self.www, bundle, version)
    }

    /// A small bundle (4 MiB slot): enough for every refusal, which comes before a write.
    pub fn small(&self, compatible: &str, version: &str, epoch: u32, other_key: bool) -> Offered {
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

    pub fn mqtt(&self, args: &[&str]) -> Command {
        let mut c = Command::new("mosquitto_sub");
        c.args(["-h", "127.0.0.1", "-p", &self.broker_port.to_string()])
            .args(["-u", BROKER_USER, "-P", BROKER_PASS])
            .args(args);
        c
    }

    pub fn retained(&self, topic: &str) -> String {
        run(&mut self.mqtt(&["-t", topic, "-C", "1", "-W", "20"])).stdout
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.retained(&format!("camvault/{}/ota", self.id)))
            .unwrap_or_default()
    }

    fn url(&self, o: &Offered) -> String {
        format!("http://10.0.2.2:{}/{}", self.server.port, o.name)
    }

    fn mosquitto_pub(&self, topic: &str, payload: &str, retain: bool) {
        let mut c = Command::new("mosquitto_pub");
        c.args(["-h", "127.0.0.1", "-p", &self.broker_port.to_string()])
            .args(["-u", BROKER_USER, "-P", BROKER_PASS])
            .args(["-t", topic, "-m", payload]);
        if retain {
            c.arg("-r");
        }
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }

    pub fn publish(&self, o: &Offered) {
        let payload = serde_json::json!({
            "url": self.url(o),
            "sha256": o.sha256,
            "version": o.version,
        });
        self.mosquitto_pub(
            &format!("camvault/{}/cmd/ota", self.id),
            &payload.to_string(),
            false,
        );
    }

    /// The fleet's release announcement (retained `camvault/ota/latest`), as a release
    /// pipeline would publish it.
    pub fn announce(&self, o: &Offered) {
        let payload = serde_json::json!({
            "version": o.version,
            "url": self.url(o),
            "sha256": o.sha256,
            "release_url": format!("https://example.invalid/releases/{}", o.version),
        });
        self.mosquitto_pub("camvault/ota/latest", &payload.to_string(), true);
    }

    /// `cmd/ota` for `o`, and its reply.
    pub fn ask(&self, o: &Offered) -> serde_json::Value {
        self.ask_raw(&|| self.publish(o))
    }

    /// What Home Assistant's install button sends: `cmd/ota` with `{}`; and its reply.
    pub fn press_install(&self) -> serde_json::Value {
        self.ask_raw(&|| self.mosquitto_pub(&format!("camvault/{}/cmd/ota", self.id), "{}", false))
    }

    fn ask_raw(&self, send: &dyn Fn()) -> serde_json::Value {
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
        send();
        let out = reply.wait_with_output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no reply to cmd/ota ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn wait_state(&self, state: &str, timeout: Duration, vm: &Vm) -> serde_json::Value {
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
    pub fn refusals(&self, vm: &Vm) {
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
        self.wait_state("refused", Duration::from_secs(30), vm);
        assert!(vm.ssh("test -e /var/lib/camvault/ota/pending.json").code != 0);
        assert_eq!(vm.sh("fw_printenv -n BOOT_ORDER"), "A B");
    }

    /// The first download is cut by a kill -9 of camvault part way; the command sent again
    /// continues it with a Range request, and the bundle is accepted.
    pub fn update_with_an_interrupted_download(&self, vm: &Vm) {
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
