//! `destination = "dir"`: a local or NAS folder. Written under a temporary name, fsynced, then
//! renamed, so the folder never shows a partial file under its final name.

use std::io::{Read, Write};
use std::path::Path;

/// Copies `src` to `<dir>/<key>`; returns the CRC32C (base64) of what was written.
pub fn copy(src: &Path, dir: &Path, key: &str) -> std::io::Result<String> {
    let dest = dir.join(key);
    let parent = dest.parent().unwrap_or(dir).to_path_buf();
    std::fs::create_dir_all(&parent)?;
    let tmp = parent.join(format!(
        ".{}.part",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut input = std::fs::File::open(src)?;
    let mut out = std::fs::File::create(&tmp)?;
    let mut crc = 0u32;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.sync_all()?;
    drop(out);
    std::fs::rename(&tmp, &dest)?;
    std::fs::File::open(&parent)?.sync_all()?;
    Ok(super::plan::crc32c_b64(crc))
}
