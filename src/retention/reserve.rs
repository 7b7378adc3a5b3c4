//! Space held back for the day the card is full. Every deletion starts with a database commit,
//! and on a 100 % full disk SQLite cannot append to its journal ("database or disk is full"):
//! retention could delete nothing and recording would never come back. A reserve file of a
//! few MiB is released first when the disk is critical, so the deletion journal always has
//! room, and it is made again once the disk is back under the warn mark.

use std::io::Write;
use std::path::PathBuf;

/// The reserve: 1 % of the disk, between 1 and 16 MiB.
pub fn size_for(total_bytes: u64) -> u64 {
    (total_bytes / 100).clamp(1 << 20, 16 << 20)
}

#[derive(Clone)]
pub struct Reserve {
    path: PathBuf,
}

impl Reserve {
    pub fn new(path: PathBuf) -> Reserve {
        Reserve { path }
    }

    pub fn held(&self) -> bool {
        self.path.exists()
    }

    /// Gives the space back (the disk is critical). Returns whether there was any to give.
    pub fn release(&self) -> bool {
        let released = std::fs::remove_file(&self.path).is_ok();
        if released {
            tracing::warn!("disk critical: released the space reserve so deletions can proceed");
        }
        released
    }

    /// Takes `bytes` of real blocks (written, not sparse), durably; a partial file is removed.
    pub fn hold(&self, bytes: u64) -> std::io::Result<()> {
        if self.held() {
            return Ok(());
        }
        let tmp = self.path.with_extension("partial");
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            let chunk = vec![0u8; 1 << 20];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                f.write_all(&chunk[..n])?;
                left -= n as u64;
            }
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_held_released_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let r = Reserve::new(dir.path().join(".reserve"));
        assert!(!r.held());
        r.hold(3 << 20).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(".reserve"))
                .unwrap()
                .len(),
            3 << 20
        );
        assert!(r.release() && !r.held() && !r.release());
        assert_eq!(size_for(64 << 20), 1 << 20);
        assert_eq!(size_for(32 << 30), 16 << 20);
    }
}
