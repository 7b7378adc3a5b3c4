//! ffprobe: how much of a file plays.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::MediaError;

/// The playable duration of a (possibly truncated) recording. A file with no decodable
/// duration is `Unplayable`.
pub async fn playable_duration(path: &Path) -> Result<Duration, MediaError> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| MediaError::Spawn {
            program: "ffprobe".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().parse::<f64>() {
        Ok(d) if out.status.success() && d.is_finite() && d > 0.0 => Ok(Duration::from_secs_f64(d)),
        _ => {
            let err = String::from_utf8_lossy(&out.stderr);
            let detail = err.lines().last().unwrap_or("no duration").to_string();
            Err(MediaError::Unplayable {
                path: path.to_path_buf(),
                detail,
            })
        }
    }
}
