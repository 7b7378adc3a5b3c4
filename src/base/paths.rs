//! Every path under `device.data_dir`, in one place, so no module spells a folder name.

use std::path::{Path, PathBuf};

/// The data directory and what lives in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir(root.into())
    }

    pub fn root(&self) -> &Path {
        &self.0
    }

    /// The SQLite database (with its `-wal` and `-shm` beside it).
    pub fn db(&self) -> PathBuf {
        self.0.join("camvault.db")
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.0.join("camvault.sock")
    }

    /// Scratch files: the test clip, ffconcat files, `.partial` clips and snapshots.
    pub fn cache(&self) -> PathBuf {
        self.0.join("cache")
    }

    /// Continuous footage: `recordings/<camera>/<YYYY-MM-DD>/`.
    pub fn recordings(&self, camera: &str) -> PathBuf {
        self.0.join("recordings").join(camera)
    }

    /// Unplayable remnants, never deleted by camvault.
    pub fn quarantine(&self, camera: &str) -> PathBuf {
        self.0.join("quarantine").join(camera)
    }

    pub fn clips(&self, camera: &str) -> PathBuf {
        self.0.join("clips").join(camera)
    }

    pub fn snapshots(&self, camera: &str) -> PathBuf {
        self.0.join("snapshots").join(camera)
    }

    /// Space retention holds back for a full disk (`retention/reserve.rs`).
    /// Written by the image's first-boot unit when the card's config was refused (why, in
    /// `check-config`'s words); removed when one is accepted.
    pub fn config_rejected(&self) -> PathBuf {
        self.0.join("config-rejected.txt")
    }

    /// The highest OTA security epoch this device has committed.
    pub fn ota_epoch(&self) -> PathBuf {
        self.0.join("ota-epoch")
    }

    /// Downloaded bundles and the record of the update in flight.
    pub fn ota(&self) -> PathBuf {
        self.0.join("ota")
    }

    pub fn ota_pending(&self) -> PathBuf {
        self.ota().join("pending.json")
    }

    /// Watched by the image's `camvault-reboot.path`: its presence asks root for a reboot.
    pub fn reboot_request(&self) -> PathBuf {
        self.0.join("reboot-request")
    }

    pub fn reserve(&self) -> PathBuf {
        self.0.join(".reserve")
    }

    /// The FTP/relay inbox when `relay.watch_dir` is not set.
    pub fn inbox(&self) -> PathBuf {
        self.0.join("inbox")
    }

    /// A path the store keeps relative to the data directory.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.join(rel)
    }
}

impl AsRef<Path> for DataDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_the_root() {
        let d = DataDir::new("/var/lib/camvault");
        for p in [
            d.db(),
            d.socket(),
            d.cache(),
            d.recordings("front"),
            d.quarantine("front"),
            d.clips("front"),
            d.snapshots("front"),
            d.inbox(),
        ] {
            assert!(p.starts_with("/var/lib/camvault"), "{}", p.display());
        }
        assert_eq!(d.db(), Path::new("/var/lib/camvault/camvault.db"));
    }
}
