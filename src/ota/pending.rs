//! The update in flight, as a file in `data/ota/` that outlives reboots and power cuts: the
//! baseline, the slot it started from, the boot it was installed in, and how far it got.
//! What a boot does with it is plain logic ([`on_boot`]); the file is written atomically
//! (temporary file, fsync, rename, fsync of the folder) before each step it describes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::OtaError;
use super::gate::Baseline;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// Written before `rauc install` starts.
    Installing,
    /// RAUC wrote the other slot and made it boot next.
    Installed,
    /// The gate failed on the new slot: it was marked bad and the device reboots to the old.
    RollingBack { failed: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub baseline: Baseline,
    /// RAUC's boot name of the slot the update started from (`A`, `B`).
    pub from_slot: String,
    /// The kernel's boot id when it was installed: the same id means no reboot happened yet.
    pub boot_id: String,
    /// The gate's timeout; root's `ota-guard` rolls back 5 minutes after it if camvault
    /// never got as far as deciding (it reads this key from the file).
    pub commit_timeout_s: u64,
    #[serde(flatten)]
    pub stage: Stage,
}

/// What a start of the daemon does about the update in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnBoot {
    /// No update in flight: this slot is the committed one; mark it good.
    MarkGood,
    /// Booted into the new slot: run the commit gate.
    Gate,
    /// Installed in this very boot, and the reboot never came (the daemon restarted).
    RebootAgain,
    /// Still on the new slot after deciding to roll back: mark it bad and reboot again.
    RollBackAgain,
    /// The update is over without the new version: report why, forget it, mark good.
    Ended(Ending),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// RAUC's install never finished (a power cut or a restart during it).
    InstallInterrupted,
    /// Back on the old slot after the gate failed on the new one.
    RolledBack(Vec<String>),
    /// Back on the old slot without a verdict: the new one never got that far (U-Boot used
    /// up its tries, or the watchdog kept resetting it).
    NeverHealthy,
}

pub fn on_boot(p: Option<&Pending>, booted_slot: &str, boot_id: &str) -> OnBoot {
    let Some(p) = p else {
        return OnBoot::MarkGood;
    };
    let on_new_slot = booted_slot != p.from_slot;
    match (&p.stage, on_new_slot) {
        // RAUC puts the new slot first only once it is completely written: booting it means
        // the install finished and only the record's update was lost.
        (Stage::Installing, true) => OnBoot::Gate,
        (Stage::Installing, false) => OnBoot::Ended(Ending::InstallInterrupted),
        (Stage::Installed, true) => OnBoot::Gate,
        (Stage::Installed, false) if p.boot_id == boot_id => OnBoot::RebootAgain,
        (Stage::Installed, false) => OnBoot::Ended(Ending::NeverHealthy),
        (Stage::RollingBack { .. }, true) => OnBoot::RollBackAgain,
        (Stage::RollingBack { failed }, false) => OnBoot::Ended(Ending::RolledBack(failed.clone())),
    }
}

pub fn load(path: &Path) -> Result<Option<Pending>, OtaError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| OtaError::Manifest(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn save(path: &Path, p: &Pending) -> Result<(), OtaError> {
    let body = serde_json::to_vec_pretty(p).map_err(|e| OtaError::Manifest(e.to_string()))?;
    write_durably(path, &body)
}

/// Gone for good once this returns: the next boot sees no update in flight.
pub fn remove(path: &Path) -> Result<(), OtaError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    sync_parent(path)
}

/// Temporary file, fsync, rename, fsync of the folder: after a power cut the file is the old
/// one or the new one, never a torn mix.
pub fn write_durably(path: &Path, body: &[u8]) -> Result<(), OtaError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> Result<(), OtaError> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(stage: Stage) -> Pending {
        Pending {
            baseline: Baseline {
                from_version: "0.1.0".into(),
                to_version: "0.2.0".into(),
                epoch: 0,
                cameras: ["front".to_string()].into(),
                mqtt: true,
                uploads: false,
            },
            from_slot: "A".into(),
            boot_id: "boot-1".into(),
            commit_timeout_s: 600,
            stage,
        }
    }

    #[test]
    fn every_boot_after_an_install_knows_what_to_do() {
        assert_eq!(on_boot(None, "A", "b"), OnBoot::MarkGood);
        let installing = pending(Stage::Installing);
        assert_eq!(
            on_boot(Some(&installing), "A", "boot-2"),
            OnBoot::Ended(Ending::InstallInterrupted)
        );
        assert_eq!(on_boot(Some(&installing), "B", "boot-2"), OnBoot::Gate);
        let installed = pending(Stage::Installed);
        assert_eq!(on_boot(Some(&installed), "B", "boot-2"), OnBoot::Gate);
        assert_eq!(
            on_boot(Some(&installed), "A", "boot-1"),
            OnBoot::RebootAgain
        );
        assert_eq!(
            on_boot(Some(&installed), "A", "boot-3"),
            OnBoot::Ended(Ending::NeverHealthy)
        );
        let back = pending(Stage::RollingBack {
            failed: vec!["camera front closed no playable segment".into()],
        });
        assert_eq!(on_boot(Some(&back), "B", "boot-3"), OnBoot::RollBackAgain);
        assert_eq!(
            on_boot(Some(&back), "A", "boot-4"),
            OnBoot::Ended(Ending::RolledBack(vec![
                "camera front closed no playable segment".into()
            ]))
        );
    }

    #[test]
    fn the_record_survives_a_round_trip_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending.json");
        assert_eq!(load(&path).unwrap(), None);
        let p = pending(Stage::RollingBack {
            failed: vec!["MQTT did not connect".into()],
        });
        save(&path, &p).unwrap();
        assert_eq!(load(&path).unwrap(), Some(p));
        // The keys root's shell guard (flash/image-overlay/usr/lib/camvault/ota-guard) greps.
        save(&path, &pending(Stage::Installed)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for key in [
            "\"stage\": \"installed\"",
            "\"from_slot\": \"A\"",
            "\"commit_timeout_s\": 600",
        ] {
            assert!(text.contains(key), "{key} in {text}");
        }
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert_eq!(load(&path).unwrap(), None);
    }
}
