//! Snapshots: a JPEG of the newest keyframe of the segment being recorded. The last complete
//! fragments are cut out of the growing file ([`crate::media::fmp4::tail`]) and only their
//! keyframes are decoded, so a snapshot costs no second camera connection and little CPU.

use std::path::Path;

use super::layout::{media_dir, media_name};
use super::{Ctx, MediaFile, RecorderError};
use crate::base::durable::fsync_file_and_dir;
use crate::media::{fmp4, process};
use crate::store::MediaKind;

/// Fragments taken from the end, widening while they hold no keyframe (a long GOP).
const TRIES: [usize; 3] = [4, 16, 64];

impl Ctx {
    /// A snapshot kept and uploaded like a clip (the `snapshot` command).
    pub async fn snapshot(&self, camera: &str) -> Result<MediaFile, RecorderError> {
        let at = self.health.now();
        let rel_dir = media_dir(MediaKind::Snapshot, camera);
        std::fs::create_dir_all(self.data_dir.join(&rel_dir))?;
        let (rel, path) = self.free_name(&rel_dir, &media_name(MediaKind::Snapshot, camera, at));
        self.grab(camera, at, &path).await?;
        let p = path.clone();
        let bytes = tokio::task::spawn_blocking(move || fsync_file_and_dir(&p))
            .await
            .map_err(|_| RecorderError::Cancelled)??;
        self.register(MediaKind::Snapshot, camera, rel, at, at, bytes)
            .await
    }

    /// The camera's preview picture for Home Assistant: one file per camera under the cache,
    /// replaced each time, neither registered nor uploaded. Returns its path relative to
    /// data_dir and its size.
    pub async fn preview(&self, camera: &str) -> Result<(String, u64), RecorderError> {
        let rel = preview_path(camera);
        let path = self.data_dir.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        self.grab(camera, self.health.now(), &path).await?;
        let bytes = std::fs::metadata(&path)?.len();
        Ok((rel, bytes))
    }

    /// Writes a JPEG of the newest keyframe to `out` (whole or not at all).
    async fn grab(
        &self,
        camera: &str,
        at: chrono::DateTime<chrono::Utc>,
        out: &Path,
    ) -> Result<(), RecorderError> {
        let open = self.open_segment(camera).ok_or_else(|| {
            RecorderError::NoFootage(format!("`{camera}` is not recording right now"))
        })?;
        std::fs::create_dir_all(self.data_dir.cache())?;
        let partial = out.with_extension("jpg.partial");
        // Named after `out`: a preview and a snapshot of one camera may be taken at once.
        let stem = out.file_stem().unwrap_or_default().to_string_lossy();
        let tail_file = self.data_dir.cache().join(format!("{stem}.tail.mp4"));
        // Just after a segment boundary the new file holds no complete fragment yet: the
        // newest frames are then at the end of the segment that just closed.
        let cam = camera.to_string();
        let previous = self
            .store
            .read(move |db| db.footage(&cam, at - chrono::Duration::minutes(1), at))
            .await?
            .pop()
            .map(|(rel, _, _)| self.data_dir.join(rel));
        let mut last_error = String::from("no complete fragment yet");
        let mut attempts: Vec<(std::path::PathBuf, usize)> =
            TRIES.iter().map(|n| (open.clone(), *n)).collect();
        attempts.extend(previous.map(|p| (p, TRIES[1])));
        // A camera that has just started has no complete fragment anywhere yet: the first
        // one comes within fragment_seconds.
        let deadline = tokio::time::Instant::now()
            + std::time::Duration::from_secs(u64::from(self.fragment_seconds) + 2);
        loop {
            let mut found_fragment = false;
            for (source, n) in &attempts {
                let (o, t, n) = (source.clone(), tail_file.clone(), *n);
                let wrote = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
                    match fmp4::tail(&o, n)? {
                        Some(bytes) => std::fs::write(&t, bytes).map(|_| true),
                        None => Ok(false),
                    }
                })
                .await
                .map_err(|_| RecorderError::Cancelled)??;
                if !wrote {
                    continue;
                }
                found_fragment = true;
                match decode_last_keyframe(&tail_file, &partial).await {
                    Ok(()) if std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0) => {
                        let _ = std::fs::remove_file(&tail_file);
                        std::fs::rename(&partial, out)?;
                        return Ok(());
                    }
                    Ok(()) => last_error = "no keyframe in the newest fragments".into(),
                    Err(e) => last_error = e.to_string(),
                }
            }
            if found_fragment || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let _ = std::fs::remove_file(&tail_file);
        let _ = std::fs::remove_file(&partial);
        Err(RecorderError::NoFootage(format!(
            "no snapshot of `{camera}`: {last_error}"
        )))
    }
}

/// Where a camera's preview is kept, relative to data_dir.
pub fn preview_path(camera: &str) -> String {
    format!("cache/previews/{camera}.jpg")
}

async fn decode_last_keyframe(input: &Path, out: &Path) -> Result<(), RecorderError> {
    let args: Vec<std::ffi::OsString> = vec![
        "-hide_banner".into(),
        "-nostdin".into(),
        "-v".into(),
        "error".into(),
        "-skip_frame".into(),
        "nokey".into(),
        "-i".into(),
        input.into(),
        "-map".into(),
        "0:v:0".into(),
        "-fps_mode".into(),
        "passthrough".into(),
        "-update".into(),
        "1".into(),
        "-q:v".into(),
        "3".into(),
        "-c:v".into(),
        "mjpeg".into(),
        "-f".into(),
        "image2".into(),
        "-y".into(),
        out.into(),
    ];
    Ok(process::run("ffmpeg (snapshot)", "ffmpeg", args).await?)
}
