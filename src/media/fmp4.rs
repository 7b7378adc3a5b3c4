//! Just enough of the fragmented-MP4 box structure to cut the newest fragments out of a
//! segment that ffmpeg is still writing: the init boxes (`ftyp`, `moov`) plus the last
//! complete `moof` + `mdat` pairs form a small, valid file. Snapshots decode that instead of
//! opening a second connection to the camera.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A top-level box: type and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BoxAt {
    kind: [u8; 4],
    start: u64,
    end: u64,
}

/// Walks the top-level boxes of the first `len` bytes, stopping at the first incomplete one.
fn boxes(f: &File, len: u64) -> io::Result<Vec<BoxAt>> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut head = [0u8; 16];
    while pos + 8 <= len {
        f.read_exact_at(&mut head[..8], pos)?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let size = match size32 {
            0 => len - pos,
            1 => {
                if pos + 16 > len {
                    break;
                }
                f.read_exact_at(&mut head[8..16], pos + 8)?;
                u64::from_be_bytes(head[8..16].try_into().expect("8 bytes"))
            }
            n => u64::from(n),
        };
        if size < 8 || pos + size > len {
            break;
        }
        out.push(BoxAt {
            kind,
            start: pos,
            end: pos + size,
        });
        pos += size;
    }
    Ok(out)
}

/// The init boxes and the last `fragments` complete fragments of `path`, as one file's bytes.
/// `None` when the file holds no complete fragment yet.
pub fn tail(path: &Path, fragments: usize) -> io::Result<Option<Vec<u8>>> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let all = boxes(&f, len)?;
    let init: Vec<&BoxAt> = all
        .iter()
        .take_while(|b| &b.kind != b"moof")
        .filter(|b| matches!(&b.kind, b"ftyp" | b"moov"))
        .collect();
    if !init.iter().any(|b| &b.kind == b"moov") {
        return Ok(None);
    }
    // A fragment is a moof followed by its mdat.
    let frags: Vec<(u64, u64)> = all
        .windows(2)
        .filter(|w| &w[0].kind == b"moof" && &w[1].kind == b"mdat")
        .map(|w| (w[0].start, w[1].end))
        .collect();
    if frags.is_empty() {
        return Ok(None);
    }
    let chosen = &frags[frags.len().saturating_sub(fragments.max(1))..];
    let mut out = Vec::new();
    for (start, end) in init
        .iter()
        .map(|b| (b.start, b.end))
        .chain(chosen.iter().copied())
    {
        let mut buf = vec![0u8; (end - start) as usize];
        f.read_exact_at(&mut buf, start)?;
        out.extend_from_slice(&buf);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn bx(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut v = ((8 + payload) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend(std::iter::repeat_n(kind[0], payload));
        v
    }

    #[test]
    fn keeps_init_and_the_last_complete_fragments() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg.mp4");
        let mut data = Vec::new();
        for (k, n) in [
            (b"ftyp", 4),
            (b"moov", 20),
            (b"moof", 3),
            (b"mdat", 30),
            (b"moof", 3),
            (b"mdat", 31),
            (b"moof", 3),
            (b"mdat", 32),
        ] {
            data.extend(bx(k, n));
        }
        // A fragment still being written: its moof and half its mdat.
        data.extend(bx(b"moof", 3));
        let mut partial = bx(b"mdat", 40);
        partial.truncate(20);
        data.extend(partial);
        std::fs::File::create(&p).unwrap().write_all(&data).unwrap();

        let t = tail(&p, 2).unwrap().unwrap();
        let mut want = bx(b"ftyp", 4);
        want.extend(bx(b"moov", 20));
        for n in [31, 32] {
            want.extend(bx(b"moof", 3));
            want.extend(bx(b"mdat", n));
        }
        assert_eq!(t, want);
        assert_eq!(tail(&p, 100).unwrap().unwrap().len(), data.len() - 11 - 20);
    }

    #[test]
    fn nothing_before_the_first_fragment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg.mp4");
        let mut data = bx(b"ftyp", 4);
        data.extend(bx(b"moov", 20));
        std::fs::write(&p, &data).unwrap();
        assert_eq!(tail(&p, 1).unwrap(), None);
    }
}
