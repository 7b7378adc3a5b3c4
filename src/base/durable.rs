//! Making a write survive a power cut: a file's bytes and the folder entry naming it, flushed
//! to the card before anyone is told the file exists.

use std::fs::File;
use std::path::Path;

/// Flushes a file and the directory entry naming it to the disk.
pub fn fsync_file_and_dir(path: &Path) -> std::io::Result<u64> {
    let f = File::open(path)?;
    f.sync_all()?;
    let len = f.metadata()?.len();
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(len)
}

/// Flushes a segment ffmpeg is still writing, when it grew past the `synced` bytes already
/// flushed (and, the first time, the folder entry naming it). Returns its length.
pub fn sync_growing(path: &Path, synced: u64, with_dir: bool) -> std::io::Result<u64> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    if len > synced {
        f.sync_data()?;
    }
    if let Some(dir) = path.parent().filter(|_| with_dir) {
        File::open(dir)?.sync_all()?;
    }
    Ok(len)
}
