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
        version: crate::VERSION.to_string(),
        highest_epoch: epoch.read()?,
    })
}

/// Writes the bundle into the other slot and makes it the next boot's first choice.
pub fn install(bundle: &Path) -> Result<(), OtaError> {
    tool("rauc", &["install".as_ref(), bundle.as_os_str()], b"").map(|_| ())
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
}
