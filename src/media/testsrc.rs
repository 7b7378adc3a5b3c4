//! The clip a `test:` camera plays: encoded once (H.264 + AAC tone, one keyframe a second),
//! then looped with `-re -stream_loop -1 -c copy`, so eight test cameras cost almost nothing.

use std::path::{Path, PathBuf};

use super::MediaError;

/// Where the image ships the clip ready-made: its ffmpeg has no test pattern source.
const SHIPPED: &str = "/usr/share/camvault/testsrc-640x360-25.mp4";

pub async fn ensure_clip(cache_dir: &Path) -> Result<PathBuf, MediaError> {
    if Path::new(SHIPPED).exists() {
        return Ok(PathBuf::from(SHIPPED));
    }
    let clip = cache_dir.join("testsrc-640x360-25.mp4");
    if clip.exists() {
        return Ok(clip);
    }
    tokio::fs::create_dir_all(cache_dir).await?;
    let tmp = cache_dir.join(format!(".testsrc-{}.mp4", std::process::id()));
    let mut args: Vec<std::ffi::OsString> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=10",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        "1M",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
        "-f",
        "mp4",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(tmp.clone().into());
    if let Err(e) = super::process::run("ffmpeg (test clip)", "ffmpeg", args).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, &clip).await?;
    Ok(clip)
}
