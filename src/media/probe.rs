//! ffprobe: how much of a file plays.

use std::path::Path;
use std::time::Duration;

use super::MediaError;

/// The playable duration of a (possibly truncated) recording. A file with no decodable
/// duration is `Unplayable`.
pub async fn playable_duration(path: &Path) -> Result<Duration, MediaError> {
    let mut args: Vec<std::ffi::OsString> = [
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "csv=p=0",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(path.into());
    let out = super::process::output("ffprobe", args).await?;
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
