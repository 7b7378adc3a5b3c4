//! Local V4L2 cameras: what the device offers (asked of the kernel through the `v4l` crate, in
//! [`device`]) and what to record. The camera's own H.264 is copied when offered; otherwise MJPEG or YUYV is
//! encoded with the configured encoder, where `auto` takes a hardware H.264 encoder when the
//! machine has one and libx264 otherwise.

mod device;

use std::path::Path;

pub use device::{V4l2Device, capture_devices, formats};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct V4l2Format {
    /// The kernel's four-character code: `H264`, `MJPG`, `YUYV` …
    pub fourcc: String,
    /// ffmpeg's name for it (`h264`, `mjpeg`, `yuyv422` …); empty when ffmpeg has none.
    pub pixel: String,
    pub description: String,
    /// Discrete sizes; empty when the device takes any size in a range.
    #[serde(serialize_with = "sizes_as_text")]
    pub sizes: Vec<(u32, u32)>,
}

fn sizes_as_text<S: serde::Serializer>(sizes: &[(u32, u32)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(sizes.iter().map(|(w, h)| format!("{w}x{h}")))
}

/// ffmpeg's `-input_format` name for a V4L2 four-character code (libavdevice's table, for
/// the formats cameras give).
pub fn ffmpeg_pixel(fourcc: &str) -> Option<&'static str> {
    Some(match fourcc {
        "H264" => "h264",
        "MJPG" | "JPEG" => "mjpeg",
        "YUYV" => "yuyv422",
        "UYVY" => "uyvy422",
        "NV12" => "nv12",
        "NV21" => "nv21",
        "YU12" => "yuv420p",
        "YV12" => "yuv420p",
        "RGB3" => "rgb24",
        "BGR3" => "bgr24",
        "GREY" => "gray",
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4l2Choice {
    pub input_format: String,
    pub size: Option<(u32, u32)>,
    /// The device already gives H.264: copy it.
    pub copy: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn format(fourcc: &str, sizes: &[(u32, u32)]) -> V4l2Format {
        V4l2Format {
            fourcc: fourcc.into(),
            pixel: ffmpeg_pixel(fourcc).unwrap_or_default().into(),
            description: String::new(),
            sizes: sizes.to_vec(),
        }
    }

    /// A Logitech C920: H.264, MJPEG and YUYV.
    fn c920() -> Vec<V4l2Format> {
        let sizes = [(640, 480), (1280, 720), (1920, 1080)];
        vec![
            format("YUYV", &[(640, 480), (160, 90), (1280, 720), (1920, 1080)]),
            format("MJPG", &sizes),
            format("H264", &sizes),
        ]
    }

    /// A cheap UVC webcam: MJPEG and YUYV only.
    fn uvc() -> Vec<V4l2Format> {
        vec![
            format("MJPG", &[(1280, 720), (640, 480), (2592, 1944)]),
            format("YUYV", &[(640, 480), (1280, 720)]),
        ]
    }

    /// A Pi camera through the unicam/bcm2835 driver: stepwise sizes, raw only.
    fn picam() -> Vec<V4l2Format> {
        vec![
            format("YU12", &[]),
            format("YUYV", &[]),
            format("NV12", &[]),
        ]
    }

    #[test]
    fn copies_the_cameras_own_h264() {
        let c = choose(&c920()).unwrap();
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
        let c = choose(&uvc()).unwrap();
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
        let c = choose(&picam()).unwrap();
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
    fn fourccs_map_to_ffmpegs_input_formats() {
        assert_eq!(ffmpeg_pixel("YUYV"), Some("yuyv422"));
        assert_eq!(ffmpeg_pixel("MJPG"), Some("mjpeg"));
        assert_eq!(ffmpeg_pixel("H264"), Some("h264"));
        assert_eq!(ffmpeg_pixel("BA81"), None);
        let json = serde_json::to_value(format("MJPG", &[(1280, 720)])).unwrap();
        assert_eq!(json["sizes"][0], "1280x720");
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
