//! `destination = "dir"`: a local or NAS folder. Written under a temporary name, fsynced, then
//! renamed, so the folder never shows a partial file under its final name.

use std::io::{Read, Write};
use std::path::Path;

use md5::{Digest, Md5};

/// Copies `src` to `<dir>/<key>`; returns the MD5 (hex) of what was written.
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
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.sync_all()?;
    drop(out);
    std::fs::rename(&tmp, &dest)?;
    std::fs::File::open(&parent)?.sync_all()?;
    Ok(super::plan::hex(&md5.finalize()))
}
