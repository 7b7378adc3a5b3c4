//! RAUC does the writing: `rauc install` fills the slot not running and sets U-Boot's
//! `BOOT_ORDER`. What the device runs comes from RAUC's `system.conf` and camvault's own
//! version; the highest security epoch ever committed is kept in `data`.

use std::path::{Path, PathBuf};

use super::{OtaError, Running, tool};

/// RAUC's `[system] compatible` from its `system.conf`.
fn compatible(system_conf: &Path) -> Result<String, OtaError> {
    let text = std::fs::read_to_string(system_conf)?;
    super::manifest::ini(&text)?
        .into_iter()
        .find_map(|(section, key, value)| {
            (section == "system" && key == "compatible").then_some(value)
        })
        .ok_or_else(|| {
            OtaError::Manifest(format!(
                "{} names no [system] compatible",
                system_conf.display()
            ))
        })
}

pub fn running(system_conf: &Path, epoch: &HighestEpoch) -> Result<Running, OtaError> {
    Ok(Running {
        compatible: compatible(system_conf)?,
        version: installed_version(),
        highest_epoch: epoch.read()?,
    })
}

/// Where the image and every bundle write the release they are (`make image`, `make bundle`).
pub const RELEASE_FILE: &str = "/etc/camvault/release";

/// The release this slot holds: the image's or the bundle's version, else the binary's.
pub fn installed_version() -> String {
    std::fs::read_to_string(RELEASE_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| crate::VERSION.to_string())
}

/// RAUC's boot name of the running slot, from U-Boot's `rauc.slot=` on the kernel line.
pub fn booted_slot() -> Option<String> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").ok()?;
    slot_of(&cmdline)
}

fn slot_of(cmdline: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rauc.slot="))
        .map(str::to_string)
}

/// Changes on every boot: tells "installed in this boot" from "rebooted since".
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Resets the running slot's tries (U-Boot's `BOOT_x_LEFT`): it is the committed one.
pub fn mark_good() -> Result<(), OtaError> {
    tool("rauc", &["status".as_ref(), "mark-good".as_ref()], b"").map(|_| ())
}

/// Takes the running slot out of the boot order's reach, so the next boot is the other one.
pub fn mark_bad() -> Result<(), OtaError> {
    tool("rauc", &["status".as_ref(), "mark-bad".as_ref()], b"").map(|_| ())
}

/// Writes the bundle into the other slot and makes it the next boot's first choice.
pub fn install(bundle: &Path) -> Result<(), OtaError> {
    tool("rauc", &["install".as_ref(), bundle.as_os_str()], b"").map(|_| ())
}

/// Signs a bundle anew with `cert`/`key` (RAUC's `resign`, for release tooling): the input is
/// checked against `keyring` when one is given, the output against `cert`.
pub fn resign(
    bundle: &Path,
    out: &Path,
    cert: &Path,
    key: &Path,
    keyring: Option<&Path>,
) -> Result<(), OtaError> {
    let opt = |name: &str, p: &Path| {
        let mut s = std::ffi::OsString::from(format!("--{name}="));
        s.push(p);
        s
    };
    let mut args = vec![std::ffi::OsString::from("resign")];
    match keyring {
        Some(k) => args.push(opt("keyring", k)),
        None => args.push("--no-verify".into()),
    }
    args.extend([
        opt("cert", cert),
        opt("key", key),
        opt("signing-keyring", cert),
        bundle.as_os_str().to_owned(),
        out.as_os_str().to_owned(),
    ]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    tool("rauc", &args, b"").map(|_| ())
}

/// The highest security epoch this device has committed: a number in a file in `data`, so
/// it outlives both slots.
pub struct HighestEpoch(pub PathBuf);

impl HighestEpoch {
    pub fn read(&self) -> Result<u32, OtaError> {
        match std::fs::read_to_string(&self.0) {
            Ok(s) => s.trim().parse().map_err(|_| {
                OtaError::Manifest(format!("{} does not hold a number", self.0.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    pub fn write(&self, epoch: u32) -> Result<(), OtaError> {
        super::pending::write_durably(&self.0, format!("{epoch}\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compatible_comes_from_the_system_section() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("system.conf");
        std::fs::write(
            &conf,
            "[keyring]\ncompatible=nope\n[system]\ncompatible=camvault-qemu-arm64\nbootloader=uboot\n",
        )
        .unwrap();
        assert_eq!(compatible(&conf).unwrap(), "camvault-qemu-arm64");
        let epoch = HighestEpoch(dir.path().join("ota-epoch"));
        assert_eq!(epoch.read().unwrap(), 0, "none installed yet");
        std::fs::write(&epoch.0, "4\n").unwrap();
        assert_eq!(running(&conf, &epoch).unwrap().highest_epoch, 4);
    }

    #[test]
    fn the_booted_slot_comes_from_the_kernel_line() {
        let line = "root=PARTLABEL=rootfs-b ro rauc.slot=B console=ttyAMA0\n";
        assert_eq!(slot_of(line), Some("B".into()));
        assert_eq!(slot_of("root=/dev/sda2 ro"), None);
    }
}
