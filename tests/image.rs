//! The qemu-arm64 card image, booted as the appliance boots: qemu-system-aarch64 `-M virt` with
//! Debian's u-boot-qemu as firmware, the image as a virtio disk, user-mode networking to the
//! host's Garage and mosquitto. The user's config goes onto the FAT partition as a user would
//! put it there. `make test` builds the image first (`make image`, cached).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The camera vivid's capture node becomes when found: named after its card (`vivid`).
const VIVID: &str = "vivid";
const CLI: &str = "camvault --config /var/lib/camvault/camvault.toml";

#[test]
fn the_image_boots_applies_the_card_config_records_uploads_and_updates_itself() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(&dir.path().join("garage"));
    let broker = Broker::start(dir.path(), None);
    // Flashed onto a card larger than the image: `data` grows into the rest on first boot.
    let (disk, key, public) = vm_card(dir.path(), "+2G");

    // What a user writes onto the card from a PC: the config, a secret by bare name, a key.
    let config = format!(
        "[recording]\nsegment_seconds = 10\nfragment_seconds = 1\n\n\
         [[camera]]\nname = \"pattern\"\nsource = \"test:\"\n\n\
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
    // A real V4L2 camera plugged in while camvault runs (the vivid driver): found through
    // /dev, and recorded without a config entry (`auto_record = "v4l2"`, the default).
    vm.sh("modprobe vivid n_devs=1 && udevadm settle");
    vm.wait_until(
        "the plugged-in camera recording",
        Duration::from_secs(180),
        &format!(
            "{CLI} status --json | tr -d ' \\n' | grep -q '\"{VIVID}\":{{\"state\":\"recording\"'"
        ),
    );
    // The V4L2 devices as the kernel reports them (the v4l crate), capture nodes only.
    let found: serde_json::Value =
        serde_json::from_str(&vm.sh(&format!("{CLI} discover --json"))).unwrap();
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
        if l.contains("/pattern/") && l.contains(&format!("/{VIVID}/")) {
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

    // Unplugged (the driver lets go of the device as a USB camera's would): the camera is
    // stopped, says why, and does not restart in a loop; nothing holds the module after.
    vm.sh("echo vivid.0 >/sys/bus/platform/drivers/vivid/unbind");
    vm.wait_until(
        "the unplugged camera stopped",
        Duration::from_secs(60),
        &format!(
            "{CLI} status --json | tr -d ' \\n' | grep -q '\"{VIVID}\":{{\"state\":\"stopped\"'"
        ),
    );
    // Nothing camvault runs keeps the gone device open: the module can go (the last file
    // handles close as their processes are reaped).
    let rmmod = vm.ssh(
        "for i in $(seq 30); do rmmod vivid 2>/dev/null && exit 0; sleep 1; done; \
         for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -q /dev/video && echo \"$(cat $p/comm) $(grep -E '^(State|PPid)' $p/status | tr '\\n' ' ') wchan $(cat $p/wchan) holds $(ls -l $p/fd | grep /dev/video)\"; done; ps -ef | grep -E '[f]fmpeg|[c]amvault' | head; \
         exit 1",
    );
    assert_eq!(
        rmmod.code, 0,
        "vivid still in use: {}{}",
        rmmod.stdout, rmmod.stderr
    );
    let restarts = || {
        let st: serde_json::Value =
            serde_json::from_str(&vm.sh(&format!("{CLI} status --json"))).unwrap();
        (
            st["cameras"][VIVID]["restarts"].clone(),
            st["cameras"][VIVID]["reason"].clone(),
            st["cameras"][VIVID]["state"].clone(),
        )
    };
    let before = restarts();
    std::thread::sleep(Duration::from_secs(20));
    let after = restarts();
    assert_eq!(before, after, "no restart loop while unplugged");
    assert!(
        after.1.as_str().is_some_and(|r| r.contains("gone")),
        "{after:?}"
    );
    assert_eq!(after.2, "stopped");

    // The update: a v2 bundle through `cmd/ota`, interrupted once, installs into slot B,
    // reboots, and commits once the device records, talks MQTT and uploads again. The vivid
    // camera is done with: switched off (the switch is kept in `data`, so on every slot),
    // so the gate does not wait for a module nobody loads on the new slot.
    vm.sh(&format!("{CLI} record {VIVID} off"));
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
    // It comes as Home Assistant users get releases: announced on `ota/latest` (the update
    // entity shows it as the latest version), then the entity's install button.
    let broken = ota.broken_release();
    ota.announce(&broken);
    wait_for(
        "the announced release as latest_version",
        Duration::from_secs(60),
        || {
            let s = ota.state();
            let seen = s["latest_version"] == broken.version.as_str()
                && s["release_url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&broken.version));
            if !seen {
                std::thread::sleep(Duration::from_secs(1));
            }
            seen
        },
    );
    let r = ota.press_install();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["result"]["version"], broken.version.as_str(), "{r}");
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
