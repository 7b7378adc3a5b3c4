//! The inbox folder: listing it without following links, and the two ways a file leaves it
//! (deleted once sent or skipped, moved to `_failed/` when it cannot be sent). Names are only
//! ever joined to the inbox path and passed as argv: no shell, no interpretation.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::select::Entry;

pub const FAILED_DIR: &str = "_failed";

/// What a scan finds.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<Entry>,
    /// Entries that are not plain files with UTF-8 names: symlinks (never followed, wherever
    /// they point), sockets, fifos, undecodable names. They go the failed route.
    pub odd: Vec<OsString>,
}

pub fn scan(dir: &Path) -> io::Result<Listing> {
    let mut out = Listing::default();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let raw = e.file_name();
        let meta = std::fs::symlink_metadata(e.path())?;
        if meta.is_dir() {
            // Folders (including _failed/) are left alone.
            continue;
        }
        match raw.to_str() {
            Some(name) if meta.file_type().is_file() => {
                let mtime: DateTime<Utc> = meta.modified().map(Into::into).unwrap_or_default();
                out.files.push(Entry {
                    name: name.to_string(),
                    mtime,
                });
            }
            _ => out.odd.push(raw),
        }
    }
    Ok(out)
}

/// Deletes what the relay will never send once it is older than `before`: entries of
/// `_failed/`, and files in the inbox that are not video. Returns how many went.
pub fn expire(dir: &Path, before: std::time::SystemTime) -> io::Result<usize> {
    let old = |p: &Path| {
        std::fs::symlink_metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < before)
    };
    let mut gone = 0;
    let failed = dir.join(FAILED_DIR);
    for e in std::fs::read_dir(&failed).into_iter().flatten().flatten() {
        if old(&e.path()) && !e.path().is_dir() && std::fs::remove_file(e.path()).is_ok() {
            gone += 1;
        }
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let junk = name.to_str().is_none_or(|n| !super::select::is_video(n));
        let meta = std::fs::symlink_metadata(e.path())?;
        if junk && !meta.is_dir() && old(&e.path()) && std::fs::remove_file(e.path()).is_ok() {
            gone += 1;
        }
    }
    Ok(gone)
}

/// Moves an entry (the link itself, for a symlink) to `_failed/`, under a free name.
pub fn move_to_failed(dir: &Path, name: &std::ffi::OsStr) -> io::Result<PathBuf> {
    let failed = dir.join(FAILED_DIR);
    std::fs::create_dir_all(&failed)?;
    let mut target = failed.join(name);
    let mut n = 1;
    while std::fs::symlink_metadata(&target).is_ok() {
        n += 1;
        let mut alt = name.to_os_string();
        alt.push(format!(".{n}"));
        target = failed.join(alt);
    }
    std::fs::rename(dir.join(name), &target)?;
    Ok(target)
}

pub fn delete(dir: &Path, name: &str) -> io::Result<()> {
    match std::fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_odd_names_are_set_aside_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = tmp.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        let outside = tmp.path().join("secret.mp4");
        std::fs::write(&outside, b"outside").unwrap();
        std::os::unix::fs::symlink(&outside, inbox.join("link.mp4")).unwrap();
        std::fs::write(inbox.join("-rf.mp4"), b"x").unwrap();
        std::fs::write(inbox.join(";rm -rf x.mp4"), b"x").unwrap();
        std::fs::create_dir(inbox.join("folder.mp4")).unwrap();
        let l = scan(&inbox).unwrap();
        let mut names: Vec<_> = l.files.iter().map(|f| f.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["-rf.mp4", ";rm -rf x.mp4"]);
        assert_eq!(l.odd, [OsString::from("link.mp4")]);
        let moved = move_to_failed(&inbox, &l.odd[0]).unwrap();
        assert!(std::fs::symlink_metadata(&moved).unwrap().is_symlink());
        assert_eq!(
            std::fs::read(&outside).unwrap(),
            b"outside",
            "the target is untouched"
        );
        std::fs::write(inbox.join("dup.mp4"), b"1").unwrap();
        move_to_failed(&inbox, "dup.mp4".as_ref()).unwrap();
        std::fs::write(inbox.join("dup.mp4"), b"2").unwrap();
        let second = move_to_failed(&inbox, "dup.mp4".as_ref()).unwrap();
        assert!(second.ends_with("_failed/dup.mp4.2"));
    }

    #[test]
    fn junk_and_failed_files_expire_videos_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = tmp.path();
        std::fs::write(inbox.join("clip.mp4"), b"v").unwrap();
        std::fs::write(inbox.join("notes.txt"), b"j").unwrap();
        std::fs::write(inbox.join("x.mp4"), b"f").unwrap();
        move_to_failed(inbox, "x.mp4".as_ref()).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        assert_eq!(expire(inbox, earlier).unwrap(), 0, "nothing old enough");
        assert_eq!(expire(inbox, later).unwrap(), 2);
        assert!(inbox.join("clip.mp4").exists(), "videos are the relay's");
        assert!(!inbox.join("notes.txt").exists());
        assert!(!inbox.join("_failed/x.mp4").exists());
    }
}
