//! `camvault ota verify|install` against bundles made by the real `rauc bundle` (verity format)
//! and checked by the real openssl: a good bundle passes; one signed by another key, one whose
//! signature was tampered with, and a file that is no bundle are refused; and the device's
//! policy (compatible, newer version, security epoch) refuses with its reason before RAUC is
//! asked to write anything. Installing into real slots is the VM's job (tests/image.rs).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

fn verify(config: &Path, system_conf: &Path, bundle: &Path) -> Run {
    run(camvault()
        .arg("--config")
        .arg(config)
        .args(["ota", "verify"])
        .arg("--system-conf")
        .arg(system_conf)
        .arg(bundle))
}

#[test]
fn bundles_are_checked_by_signature_then_by_the_devices_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let release = key_pair(d, "release");
    let other = key_pair(d, "other");
    let config = config(
        d,
        &format!(
            "[[camera]]\nname = \"t\"\nsource = \"test:\"\n\n[ota]\nkeyring = \"{}\"\n",
            release.0.display()
        ),
    );
    std::fs::create_dir_all(d.join("data")).unwrap();
    let system_conf = d.join("system.conf");
    write(
        &system_conf,
        "[system]\ncompatible=camvault-qemu-arm64\nbootloader=uboot\n",
    );
    let running = camvault::VERSION;
    let newer = "99.0.0";

    // A good bundle: the manifest as signed, and this device would take it.
    let good = bundle(d, &release, "camvault-qemu-arm64", newer, 1);
    let r = verify(&config, &system_conf, &good);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["signature"], "ok");
    assert_eq!(v["manifest"]["version"], newer);
    assert_eq!(v["manifest"]["security_epoch"], 1);
    assert_eq!(v["verdict"]["verdict"], "accepted", "{v}");

    let bad_signature = |b: &Path| {
        let r = verify(&config, &system_conf, b);
        assert_eq!(r.code, 1, "{}", r.stdout);
        assert!(
            r.stderr.contains("signature does not check out"),
            "{}",
            r.stderr
        );
    };

    // Signed by a key the keyring does not hold.
    let foreign = bundle(d, &other, "camvault-qemu-arm64", newer, 1);
    bad_signature(&foreign);

    // One byte of the signed manifest changed.
    let tampered = d.join("tampered.raucb");
    tamper_manifest(&good, newer, &tampered);
    bad_signature(&tampered);

    // Not a bundle at all.
    let junk = d.join("junk.raucb");
    std::fs::write(&junk, b"not a bundle, just text").unwrap();
    let r = verify(&config, &system_conf, &junk);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a RAUC bundle"), "{}", r.stderr);

    // Well signed, but not for this device: each refusal names its reason.
    let refused = |b: &Path| {
        let r = verify(&config, &system_conf, b);
        assert_eq!(r.code, 1, "{}", r.stdout);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["verdict"]["verdict"], "refused", "{v}");
        v["verdict"]["reason"].as_str().unwrap().to_string()
    };
    let rpi = bundle(d, &release, "camvault-rpi4", newer, 1);
    assert!(refused(&rpi).contains("camvault-rpi4"));
    let same = bundle(d, &release, "camvault-qemu-arm64", running, 1);
    assert!(refused(&same).contains("not newer"));
    write(&d.join("data/ota-epoch"), "2\n");
    assert!(refused(&good).contains("epoch 1 is below 2"));

    // install refuses the same way, before RAUC is asked to write anything.
    let r = run(camvault()
        .arg("--config")
        .arg(&config)
        .args(["ota", "install", "--system-conf"])
        .arg(&system_conf)
        .arg(&good));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("refused: security epoch 1 is below 2"),
        "{}",
        r.stderr
    );
}

/// A download cut off part way (here: the daemon's task dropped, as a power cut or a restart
/// would) continues with a `Range` request from where it stopped, against nginx; the result
/// hashes right, and a wrong hash is refused with the partial file dropped.
#[test]
fn an_interrupted_download_resumes_by_range() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    let body: Vec<u8> = (0..6u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("b.raucb"), &body).unwrap();
    let sha = format!("{:x}", sha2::Sha256::digest(&body));
    // 2 MiB/s: the first try is cut after about a second.
    let server = FileServer::start(dir.path(), &root, 2 << 20);
    let url = format!("http://127.0.0.1:{}/b.raucb", server.port);
    let store = dir.path().join("ota");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let fetch = |sha: String| {
        let (http, url, store) = (http.clone(), url.clone(), store.clone());
        async move {
            camvault::ota::download::fetch(&http, &url, &sha, &store, |_| true, |_, _| {}).await
        }
    };
    let cut = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(1500), fetch(sha.clone())).await
    });
    assert!(cut.is_err(), "the first try was still running when cut");
    let part = std::fs::metadata(store.join(format!("{sha}.part")))
        .unwrap()
        .len();
    assert!(
        part > 0 && part < body.len() as u64,
        "a partial file: {part}"
    );

    let (path, fetched) = rt
        .block_on(fetch(sha.clone()))
        .expect("the resumed download");
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(fetched.resumed_from, part);
    assert!(!store.join(format!("{sha}.part")).exists());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[1].0, 206, "{reqs:?}");
    assert_eq!(reqs[1].2, format!("bytes={part}-"), "{reqs:?}");
    assert_eq!(
        reqs[1].1,
        body.len() as u64 - part,
        "only the rest was sent: {reqs:?}"
    );

    // A bundle already here is not fetched again; a wrong hash is refused and not kept.
    rt.block_on(fetch(sha.clone())).unwrap();
    assert_eq!(server.requests().len(), 2);
    let wrong = "0".repeat(64);
    let e = rt.block_on(fetch(wrong.clone())).unwrap_err().to_string();
    assert!(e.contains("SHA-256"), "{e}");
    assert!(!store.join(format!("{wrong}.part")).exists());
    assert!(!store.join(format!("{wrong}.raucb")).exists());
}

/// Release tooling: a bundle built and signed by a build key is signed anew with the release
/// key (`ota sign`, RAUC's resign); the device's keyring (the release certificate) then takes
/// it, and the build key's signature no longer checks out against it. A wrong `--keyring`
/// for the input is refused.
#[test]
fn ota_sign_moves_a_bundle_onto_the_release_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let build = key_pair(d, "build");
    let release = key_pair(d, "release");
    let input = bundle(d, &build, "camvault-qemu-arm64", "3.0.0", 0);
    let out = d.join("signed.raucb");
    let sign = |keyring: &Path, out: &Path| {
        run(camvault()
            .args(["ota", "sign", "--cert"])
            .arg(&release.0)
            .arg("--key")
            .arg(&release.1)
            .arg("--keyring")
            .arg(keyring)
            .arg(&input)
            .arg(out))
    };
    let r = sign(&build.0, &out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["signature"], "ok", "{v}");
    assert_eq!(v["manifest"]["version"], "3.0.0", "{v}");

    let check = |keyring: &Path, b: &Path| {
        run(camvault()
            .args(["ota", "verify", "--keyring"])
            .arg(keyring)
            .arg(b))
    };
    let r = check(&release.0, &out);
    assert!(
        r.stdout.contains("\"signature\": \"ok\""),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = check(&build.0, &out);
    assert!(
        r.stderr.contains("signature does not check out"),
        "{}",
        r.stderr
    );

    let wrong = sign(&release.0, &d.join("never.raucb"));
    assert_ne!(wrong.code, 0, "the input is not signed under that keyring");
    assert!(!d.join("never.raucb").exists());
}
