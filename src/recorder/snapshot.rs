//! Snapshots: a JPEG of the newest keyframe of the segment being recorded. The last complete
//! fragments are cut out of the growing file ([`crate::media::fmp4::tail`]) and only their
//! keyframes are decoded, so a snapshot costs no second camera connection and little CPU.

use std::path::Path;

use super::layout::{fsync_file_and_dir, media_dir, media_name};
use super::{Ctx, MediaFile, RecorderError};
use crate::media::{fmp4, process};
use crate::store::MediaKind;

/// Fragments taken from the end, widening while they hold no keyframe (a long GOP).
const TRIES: [usize; 3] = [4, 16, 64];

impl Ctx {
    pub async fn snapshot(&self, camera: &str) -> Result<MediaFile, RecorderError> {
        let open = self.open_segment(camera).ok_or_else(|| {
            RecorderError::NoFootage(format!("`{camera}` is not recording right now"))
        })?;
        let at = self.health.now();
        let rel_dir = media_dir(MediaKind::Snapshot, camera);
        std::fs::create_dir_all(self.data_dir.join(&rel_dir))?;
        std::fs::create_dir_all(self.data_dir.cache())?;
        let (rel, path) = self.free_name(&rel_dir, &media_name(MediaKind::Snapshot, camera, at));
        let partial = path.with_extension("jpg.partial");
        let tail_file = self.data_dir.cache().join(format!("snapshot-{camera}.mp4"));
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
                        std::fs::rename(&partial, &path)?;
                        let p = path.clone();
                        let bytes = tokio::task::spawn_blocking(move || fsync_file_and_dir(&p))
                            .await
                            .map_err(|_| RecorderError::Cancelled)??;
                        return self
                            .register(MediaKind::Snapshot, camera, rel, at, at, bytes)
                            .await;
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
