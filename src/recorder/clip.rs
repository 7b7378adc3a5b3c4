//! Event clips: one MP4 of [at − pre, at + post] cut from the recorded segments without
//! re-encoding. The segments covering the window are joined with ffmpeg's concat demuxer
//! (the one still being written included: its complete fragments are readable), and the cut
//! seeks on the input, so it starts at the keyframe before `at − pre`; the MP4 edit list
//! then hides the frames before it. Accurate to a fragment (≤ 1 s) at both ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::layout::{media_dir, media_name};
use super::{Ctx, MediaFile, RecorderError};
use crate::base::durable::fsync_file_and_dir;
use crate::media::{probe, process};
use crate::store::MediaKind;

/// A recorded piece of a camera's footage.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub path: PathBuf,
    pub start: DateTime<Utc>,
    /// `None` for the segment ffmpeg still writes.
    pub end: Option<DateTime<Utc>>,
}

/// How to cut: the files to join, where to seek in the joined timeline and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub files: Vec<Piece>,
    pub seek_s: f64,
    pub duration_s: f64,
    /// The instant the clip starts at (the window's start, or the first footage after it).
    pub start: DateTime<Utc>,
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// Plain logic: which pieces cover [from, to] and where the cut falls. `pieces` sorted by start.
pub fn plan(from: DateTime<Utc>, to: DateTime<Utc>, pieces: &[Piece]) -> Option<Cut> {
    let files: Vec<Piece> = pieces
        .iter()
        .filter(|p| p.start < to && p.end.is_none_or(|e| e > from))
        .cloned()
        .collect();
    let first = files.first()?.start;
    let start = from.max(first);
    let duration_s = secs(to - start);
    (duration_s > 0.0).then(|| Cut {
        seek_s: secs(start - first),
        duration_s,
        start,
        files,
    })
}

/// The concat demuxer's list. Durations come from the store (fragmented MP4 does not carry
/// one in its header), so seeking across files lands where the wall clock says.
pub fn concat_list(files: &[Piece]) -> String {
    let mut s = String::from("ffconcat version 1.0\n");
    for p in files {
        let quoted = p.path.to_string_lossy().replace('\'', "'\\''");
        s.push_str(&format!("file '{quoted}'\n"));
        if let Some(end) = p.end {
            s.push_str(&format!("duration {:.3}\n", secs(end - p.start)));
        }
    }
    s
}

impl Ctx {
    /// Builds a clip of [at − pre, at + post], waiting until that much has been recorded.
    pub async fn clip(
        &self,
        camera: &str,
        at: DateTime<Utc>,
        pre: Duration,
        post: Duration,
    ) -> Result<MediaFile, RecorderError> {
        let from = at - chrono::Duration::from_std(pre).unwrap_or_default();
        let to = at + chrono::Duration::from_std(post).unwrap_or_default();
        // The last fragment of the window must be complete on disk before we read it.
        let ready_at = to + chrono::Duration::seconds(i64::from(self.fragment_seconds) + 1);
        if let Ok(wait) = (ready_at - self.health.now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let pieces = self.pieces(camera, from, to).await?;
        let cut = plan(from, to, &pieces).ok_or_else(|| {
            RecorderError::NoFootage(format!(
                "no footage of `{camera}` between {} and {}",
                from.to_rfc3339(),
                to.to_rfc3339()
            ))
        })?;
        let rel_dir = media_dir(MediaKind::Clip, camera);
        std::fs::create_dir_all(self.data_dir.join(&rel_dir))?;
        let (rel, path) = self.free_name(&rel_dir, &media_name(MediaKind::Clip, camera, cut.start));
        let partial = path.with_extension("mp4.partial");
        let list = self
            .data_dir
            .cache()
            .join(format!("clip-{camera}-{}.ffconcat", std::process::id()));
        std::fs::create_dir_all(self.data_dir.cache())?;
        std::fs::write(&list, concat_list(&cut.files))?;
        let result = cut_clip(&list, &cut, &partial).await;
        let _ = std::fs::remove_file(&list);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        let duration = probe::playable_duration(&partial).await?;
        std::fs::rename(&partial, &path)?;
        let p = path.clone();
        let bytes = tokio::task::spawn_blocking(move || fsync_file_and_dir(&p))
            .await
            .map_err(|_| RecorderError::Cancelled)??;
        let end = cut.start + chrono::Duration::from_std(duration).unwrap_or_default();
        self.register(MediaKind::Clip, camera, rel, cut.start, end, bytes)
            .await
    }

    /// Closed segments overlapping the window, then the one being written.
    async fn pieces(
        &self,
        camera: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Piece>, RecorderError> {
        let cam = camera.to_string();
        let closed = self
            .store
            .read(move |db| db.footage(&cam, from, to))
            .await?;
        let mut pieces: Vec<Piece> = closed
            .into_iter()
            .map(|(rel, start, end)| Piece {
                path: self.data_dir.join(rel),
                start,
                end: Some(end),
            })
            .collect();
        let last_end = pieces.last().and_then(|p| p.end);
        if last_end.is_none_or(|e| e < to)
            && let Some(open) = self.open_segment(camera)
        {
            let cam = camera.to_string();
            let now = self.health.now();
            // Segments are contiguous: the open one starts where the last closed one ended.
            let start = match self
                .store
                .read(move |db| db.last_end_before(&cam, now))
                .await?
            {
                Some(e) => e,
                None => open
                    .file_name()
                    .and_then(|n| super::layout::parse_name(camera, &n.to_string_lossy()))
                    .unwrap_or(now),
            };
            if pieces.last().is_none_or(|p| p.path != open) {
                pieces.push(Piece {
                    path: open,
                    start,
                    end: None,
                });
            }
        }
        Ok(pieces)
    }

    /// `name`, or `name` with `-2`, `-3` … before the extension when taken.
    pub(super) fn free_name(&self, rel_dir: &str, name: &str) -> (String, PathBuf) {
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
        (1..)
            .map(|n| {
                let file = if n == 1 {
                    name.to_string()
                } else {
                    format!("{stem}-{n}.{ext}")
                };
                let rel = format!("{rel_dir}/{file}");
                let path = self.data_dir.join(&rel);
                (rel, path)
            })
            .find(|(_, p)| !p.exists())
            .expect("some name is free")
    }

    /// Records a finished clip or snapshot in the store, durably, and tells retention.
    pub(super) async fn register(
        &self,
        kind: MediaKind,
        camera: &str,
        rel: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        bytes: u64,
    ) -> Result<MediaFile, RecorderError> {
        let (cam, r) = (camera.to_string(), rel.clone());
        let id = self
            .store
            .write(move |db| db.insert_media(kind, &cam, &r, start, end, bytes as i64))
            .await?;
        self.store.flush().await?;
        Ok(MediaFile {
            id,
            kind,
            camera: camera.to_string(),
            path: rel,
            start,
            end,
            bytes,
        })
    }
}

async fn cut_clip(list: &Path, cut: &Cut, out: &Path) -> Result<(), RecorderError> {
    let args: Vec<std::ffi::OsString> = vec![
        "-hide_banner".into(),
        "-nostdin".into(),
        "-v".into(),
        "error".into(),
        "-f".into(),
        "concat".into(),
        "-safe".into(),
        "0".into(),
        "-ss".into(),
        format!("{:.3}", cut.seek_s).into(),
        "-i".into(),
        list.into(),
        "-t".into(),
        format!("{:.3}", cut.duration_s).into(),
        "-map".into(),
        "0".into(),
        "-c".into(),
        "copy".into(),
        "-movflags".into(),
        "+faststart".into(),
        "-f".into(),
        "mp4".into(),
        out.into(),
    ];
    Ok(process::run("ffmpeg (clip)", "ffmpeg", args).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn piece(n: &str, start: i64, end: Option<i64>) -> Piece {
        Piece {
            path: PathBuf::from(n),
            start: t(start),
            end: end.map(t),
        }
    }

    #[test]
    fn spans_a_boundary_and_the_open_segment() {
        let pieces = [
            piece("a", 0, Some(10)),
            piece("b", 10, Some(20)),
            piece("c", 20, Some(30)),
            piece("open", 30, None),
        ];
        let cut = plan(t(15), t(35), &pieces).unwrap();
        let names: Vec<_> = cut.files.iter().map(|p| p.path.to_str().unwrap()).collect();
        assert_eq!(names, ["b", "c", "open"]);
        assert_eq!((cut.seek_s, cut.duration_s, cut.start), (5.0, 20.0, t(15)));
    }

    #[test]
    fn a_window_before_the_first_footage_starts_at_the_footage() {
        let pieces = [piece("a", 100, Some(110))];
        let cut = plan(t(90), t(105), &pieces).unwrap();
        assert_eq!((cut.seek_s, cut.duration_s, cut.start), (0.0, 5.0, t(100)));
        assert!(plan(t(0), t(50), &pieces).is_none());
        assert!(plan(t(120), t(130), &pieces).is_none());
    }

    #[test]
    fn concat_list_quotes_and_carries_durations() {
        let list = concat_list(&[
            piece("/d/it's.mp4", 0, Some(10)),
            piece("/d/o.mp4", 10, None),
        ]);
        assert_eq!(
            list,
            "ffconcat version 1.0\nfile '/d/it'\\''s.mp4'\nduration 10.000\nfile '/d/o.mp4'\n"
        );
    }
}
