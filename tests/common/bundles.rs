//! RAUC bundles for the OTA tests: signing pairs, and small bundles (a 4 MiB slot) made by the
//! real `rauc bundle`, enough for every check made before a slot is written.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run, write};

/// A self-signed ECDSA P-256 signing pair in `dir`: (certificate, key).
pub fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.cert.pem")),
        dir.join(format!("{name}.key.pem")),
    );
    let r = run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "30", "-subj", &format!("/CN={name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert_eq!(r.code, 0, "{}", r.stderr);
    (cert, key)
}

/// A bundle of a small ext4 slot, as `make bundle` writes one.
pub fn bundle(
    dir: &Path,
    signer: &(PathBuf, PathBuf),
    compatible: &str,
    version: &str,
    epoch: u32,
) -> PathBuf {
    let content = dir.join(format!(
        "content-{compatible}-{version}-{epoch}-{}",
        signer.0.file_name().unwrap().to_string_lossy()
    ));
    let root = content.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    write(&root.join("etc/camvault-version"), version);
    // Something that does not compress away: RAUC wants a squashfs over 4 KiB.
    let noise: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("etc/noise"), noise).unwrap();
    let r = run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&root)
        .arg(content.join("rootfs.ext4"))
        .arg("4M"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(&root).unwrap();
    write(
        &content.join("manifest.raucm"),
        &format!(
            "[update]\ncompatible={compatible}\nversion={version}+epoch.{epoch}\n\n[bundle]\n\
             format=verity\n\n[image.rootfs]\nfilename=rootfs.ext4\n"
        ),
    );
    let signer_name = signer.0.file_name().unwrap().to_string_lossy();
    let out = dir.join(format!(
        "{compatible}-{version}-{epoch}-{signer_name}.raucb"
    ));
    let r = run(Command::new("rauc")
        .arg("bundle")
        .arg(format!("--cert={}", signer.0.display()))
        .arg(format!("--key={}", signer.1.display()))
        .arg(&content)
        .arg(&out));
    assert_eq!(r.code, 0, "rauc bundle: {}", r.stderr);
    out
}

/// A copy of `good` with one byte of its signed manifest (the first character of `version`,
/// found inside the CMS signature at the end of the bundle) changed.
pub fn tamper_manifest(good: &Path, version: &str, out: &Path) {
    let mut bytes = std::fs::read(good).unwrap();
    let n = bytes.len();
    let sig = u64::from_be_bytes(bytes[n - 8..].try_into().unwrap()) as usize;
    let at = bytes[n - 8 - sig..n - 8]
        .windows(version.len())
        .position(|w| w == version.as_bytes())
        .expect("the manifest is inside the signature")
        + n
        - 8
        - sig;
    bytes[at] = if bytes[at] == b'8' { b'9' } else { b'8' };
    std::fs::write(out, &bytes).unwrap();
}
