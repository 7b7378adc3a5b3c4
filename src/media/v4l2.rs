//! Local V4L2 cameras: what the device offers (from `ffmpeg -f v4l2 -list_formats all`) and
//! what to record. The camera's own H.264 is copied when offered; otherwise MJPEG or YUYV is
//! encoded with the configured encoder, where `auto` takes a hardware H.264 encoder when the
//! machine has one and libx264 otherwise.

use std::path::Path;

use super::MediaError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4l2Format {
    /// ffmpeg's name for it: `h264`, `mjpeg`, `yuyv422`, `nv12` …
    pub pixel: String,
    /// Discrete sizes; empty when the device takes any size in a range.
    pub sizes: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4l2Choice {
    pub input_format: String,
    pub size: Option<(u32, u32)>,
    /// The device already gives H.264: copy it.
    pub copy: bool,
}

/// Parses the format lines of `ffmpeg -f v4l2 -list_formats all -i DEV`, e.g.
/// `[video4linux2,v4l2 @ 0x5] Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480`.
pub fn parse_formats(text: &str) -> Vec<V4l2Format> {
    text.lines()
        .filter(|l| {
            l.contains("Compressed:")
                || l.contains("Raw       :")
                || l.contains("Raw :")
                || l.contains("Raw:")
        })
        .filter_map(|l| {
            let (_, rest) = l.split_once(':')?;
            let mut parts = rest.splitn(3, " : ");
            let pixel = parts.next()?.trim().to_string();
            let _desc = parts.next()?;
            let sizes = parts
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|s| {
                    let (w, h) = s.split_once('x')?;
                    Some((w.parse().ok()?, h.parse().ok()?))
                })
                .collect();
            (!pixel.is_empty() && pixel != "Unsupported").then_some(V4l2Format { pixel, sizes })
        })
        .collect()
}

/// The largest size within `max` pixels, or None when the device lists none (any size).
fn best_size(f: &V4l2Format, max: u32) -> Option<(u32, u32)> {
    f.sizes
        .iter()
        .copied()
        .filter(|(w, h)| w * h <= max)
        .max_by_key(|(w, h)| w * h)
}

pub fn choose(formats: &[V4l2Format]) -> Option<V4l2Choice> {
    const FULL_HD: u32 = 1920 * 1080;
    // Raw frames over USB 2 and software encoding on a Pi: 720p is the sensible ceiling.
    const HD: u32 = 1280 * 720;
    let find = |p: &str| formats.iter().find(|f| f.pixel == p);
    if let Some(f) = find("h264") {
        return Some(V4l2Choice {
            input_format: "h264".into(),
            size: best_size(f, FULL_HD),
            copy: true,
        });
    }
    if let Some(f) = find("mjpeg") {
        return Some(V4l2Choice {
            input_format: "mjpeg".into(),
            size: best_size(f, FULL_HD),
            copy: false,
        });
    }
    for raw in ["yuyv422", "nv12", "yuv420p"] {
        if let Some(f) = find(raw) {
            return Some(V4l2Choice {
                input_format: raw.into(),
                size: best_size(f, HD),
                copy: false,
            });
        }
    }
    None
}

/// `encoder = "auto"`: a hardware H.264 encoder ffmpeg has and this machine can drive, else
/// libx264. `encoders` is the output of `ffmpeg -encoders`.
pub fn choose_auto_encoder(encoders: &str, device_exists: impl Fn(&str) -> bool) -> &'static str {
    let has = |name: &str| {
        encoders
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(name))
    };
    // The Raspberry Pi's encoder is the bcm2835-codec at /dev/video11.
    if has("h264_v4l2m2m") && device_exists("/dev/video11") {
        return "h264_v4l2m2m";
    }
    if has("h264_nvenc") && device_exists("/dev/nvidia0") {
        return "h264_nvenc";
    }
    "libx264"
}

pub async fn auto_encoder() -> &'static str {
    let out = super::process::output("ffmpeg", ["-hide_banner", "-encoders"]).await;
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    choose_auto_encoder(&text, |p| Path::new(p).exists())
}

pub async fn list_formats(device: &str) -> Result<Vec<V4l2Format>, MediaError> {
    let args = [
        "-hide_banner",
        "-nostdin",
        "-f",
        "v4l2",
        "-list_formats",
        "all",
        "-i",
        device,
    ];
    let out = super::process::output("ffmpeg", args).await?;
    // ffmpeg lists the formats on stderr and then "exits" with an error: that is normal.
    Ok(parse_formats(&String::from_utf8_lossy(&out.stderr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Logitech C920 (H.264, MJPEG and YUYV), as ffmpeg 5.1 lists it.
    const C920: &str = "\
[video4linux2,v4l2 @ 0x55a] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 160x90 320x240 1280x720 1920x1080
[video4linux2,v4l2 @ 0x55a] Compressed:       mjpeg :          Motion-JPEG : 640x480 1280x720 1920x1080
[video4linux2,v4l2 @ 0x55a] Compressed:        h264 :                H.264 : 640x480 1280x720 1920x1080
/dev/video0: Immediate exit requested";

    /// A cheap UVC webcam: MJPEG and YUYV only.
    const UVC: &str = "\
[video4linux2,v4l2 @ 0x5] Compressed:       mjpeg :          Motion-JPEG : 1280x720 640x480 2592x1944
[video4linux2,v4l2 @ 0x5] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 1280x720";

    /// A Pi camera through the unicam/bcm2835 driver: stepwise sizes, raw only.
    const PICAM: &str = "\
[video4linux2,v4l2 @ 0x1] Raw       :     yuv420p :     Planar YUV 4:2:0 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1] Raw       :     yuyv422 :           YUYV 4:2:2 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1] Raw       :        nv12 :         Y/CbCr 4:2:0 : {32-2592, 2}x{32-1944, 2}";

    #[test]
    fn copies_the_cameras_own_h264() {
        let c = choose(&parse_formats(C920)).unwrap();
        assert_eq!(
            c,
            V4l2Choice {
                input_format: "h264".into(),
                size: Some((1920, 1080)),
                copy: true
            }
        );
    }

    #[test]
    fn encodes_mjpeg_at_most_full_hd() {
        let c = choose(&parse_formats(UVC)).unwrap();
        assert_eq!(
            c,
            V4l2Choice {
                input_format: "mjpeg".into(),
                size: Some((1280, 720)),
                copy: false
            }
        );
    }

    #[test]
    fn raw_only_devices_take_yuyv_at_the_default_size() {
        let f = parse_formats(PICAM);
        assert_eq!(f.len(), 3);
        let c = choose(&f).unwrap();
        assert_eq!(
            c,
            V4l2Choice {
                input_format: "yuyv422".into(),
                size: None,
                copy: false
            }
        );
        assert_eq!(choose(&[]), None);
    }

    #[test]
    fn auto_encoder_needs_the_hardware() {
        let list = " V..... libx264              libx264 H.264\n V..... h264_v4l2m2m         V4L2 mem2mem H.264 encoder wrapper\n";
        assert_eq!(
            choose_auto_encoder(list, |p| p == "/dev/video11"),
            "h264_v4l2m2m"
        );
        assert_eq!(choose_auto_encoder(list, |_| false), "libx264");
        let nv = " V....D h264_nvenc           NVIDIA NVENC H.264 encoder\n";
        assert_eq!(
            choose_auto_encoder(nv, |p| p == "/dev/nvidia0"),
            "h264_nvenc"
        );
    }
}
