//! Where recordings live: `<data_dir>/recordings/<camera>/<YYYY-MM-DD>/<camera>_<YYYY-MM-DD_HH-MM-SS>.mp4`
//! (UTC). The fsyncs that make a segment survive a power cut are `base::durable`'s.

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use crate::store::MediaKind;

/// The start time a segment's file name carries, if it is one of ours.
pub fn parse_name(camera: &str, file: &str) -> Option<DateTime<Utc>> {
    let stamp = file
        .strip_prefix(camera)?
        .strip_prefix('_')?
        .strip_suffix(".mp4")?;
    NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d_%H-%M-%S")
        .ok()
        .map(|t| t.and_utc())
}

/// Where event clips and snapshots live: `<data_dir>/clips/<camera>/`,
/// `<data_dir>/snapshots/<camera>/` (the store keeps `clips/<camera>/<file>`).
pub fn media_dir(kind: MediaKind, camera: &str) -> String {
    match kind {
        MediaKind::Continuous => format!("recordings/{camera}"),
        MediaKind::Clip => format!("clips/{camera}"),
        MediaKind::Snapshot => format!("snapshots/{camera}"),
    }
}

/// `<camera>_<YYYY-MM-DD_HH-MM-SS>[.mmm]` plus an extension: clip names carry their first
/// second, snapshot names their millisecond.
pub fn media_name(kind: MediaKind, camera: &str, at: DateTime<Utc>) -> String {
    match kind {
        MediaKind::Snapshot => format!("{camera}_{}.jpg", at.format("%Y-%m-%d_%H-%M-%S%.3f")),
        _ => format!("{camera}_{}.mp4", at.format("%Y-%m-%d_%H-%M-%S")),
    }
}

/// The instant a clip or snapshot name carries (to the second).
pub fn parse_media_name(camera: &str, file: &str) -> Option<DateTime<Utc>> {
    let rest = file.strip_prefix(camera)?.strip_prefix('_')?;
    let stamp = rest.get(..19)?;
    NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d_%H-%M-%S")
        .ok()
        .map(|t| t.and_utc())
}

/// `recordings/<camera>/<day>/<file>`, the path the store keeps (relative to data_dir).
pub fn relative_path(camera: &str, file: &str, start: DateTime<Utc>) -> String {
    format!("recordings/{camera}/{}/{file}", start.format("%Y-%m-%d"))
}

/// ffmpeg does not create folders: today's and tomorrow's must exist before midnight.
pub fn ensure_day_dirs(camera_dir: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    for day in [now, now + Duration::days(1)] {
        std::fs::create_dir_all(camera_dir.join(day.format("%Y-%m-%d").to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names() {
        let t = Utc.with_ymd_and_hms(2026, 1, 24, 14, 30, 0).unwrap();
        assert_eq!(
            parse_name("front", "front_2026-01-24_14-30-00.mp4"),
            Some(t)
        );
        assert_eq!(parse_name("front", "back_2026-01-24_14-30-00.mp4"), None);
        assert_eq!(parse_name("front", "front_2026-01-24.mp4"), None);
        assert_eq!(
            parse_name("front_door", "front_door_2026-01-24_14-30-00.mp4"),
            Some(t)
        );
        assert_eq!(
            relative_path("front", "front_2026-01-24_14-30-00.mp4", t),
            "recordings/front/2026-01-24/front_2026-01-24_14-30-00.mp4"
        );
    }
}
