//! The kernel's own answer about V4L2 devices, through the `v4l` crate's ioctls: which nodes
//! capture video, and the formats and frame sizes each offers. These calls block (briefly, on
//! the driver): callers on the runtime use `spawn_blocking`.

use std::path::Path;

use v4l::Device;
use v4l::capability::Flags;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;

use super::{V4l2Format, ffmpeg_pixel};
use crate::media::MediaError;

/// A node that captures video (not an output, a codec or metadata node).
#[derive(Debug, Clone, serde::Serialize)]
pub struct V4l2Device {
    pub device: String,
    /// The card's name (`vivid-000-vid-cap`, `HD Pro Webcam C920` …).
    pub name: String,
    pub driver: String,
    pub bus: String,
    pub formats: Vec<V4l2Format>,
}

/// The formats `device` captures, with their discrete frame sizes.
pub fn formats(device: &str) -> Result<Vec<V4l2Format>, MediaError> {
    let dev = open(device)?;
    formats_of(device, &dev)
}

/// The `v4l` crate opens without close-on-exec; set it at once so no child inherits the
/// device (the spawn rules also mark everything close-on-exec, for the moment in between).
fn open_cloexec(path: &Path) -> std::io::Result<Device> {
    let dev = Device::with_path(path)?;
    crate::base::fds::set_cloexec(dev.handle().fd());
    Ok(dev)
}

fn open(device: &str) -> Result<Device, MediaError> {
    open_cloexec(Path::new(device)).map_err(|e| failed(device, e))
}

fn failed(device: &str, e: std::io::Error) -> MediaError {
    MediaError::Failed {
        program: format!("V4L2 device {device}"),
        detail: e.to_string(),
    }
}

fn formats_of(device: &str, dev: &Device) -> Result<Vec<V4l2Format>, MediaError> {
    let descriptions = dev.enum_formats().map_err(|e| failed(device, e))?;
    Ok(descriptions
        .into_iter()
        .map(|d| {
            let fourcc = d.fourcc.str().unwrap_or_default().to_string();
            let sizes = dev
                .enum_framesizes(d.fourcc)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| match s.size {
                    FrameSizeEnum::Discrete(d) => Some((d.width, d.height)),
                    FrameSizeEnum::Stepwise(_) => None,
                })
                .collect();
            V4l2Format {
                pixel: ffmpeg_pixel(&fourcc).unwrap_or_default().to_string(),
                fourcc,
                description: d.description,
                sizes,
            }
        })
        .collect())
}

/// Drivers whose capture nodes are not cameras: image processors and codecs that also
/// show up as `/dev/video*` (the Pi's ISP outputs frames it was given, not a scene).
const NOT_CAMERAS: &[&str] = &[
    "bcm2835-isp",
    "bcm2835-codec",
    "rpivid",
    "pispbe",
    "hantro-vpu",
    "rkvdec",
    "cedrus",
    "vicodec",
    "vim2m",
];

/// Every video capture node on the machine, sorted by path. Nodes that vanish or refuse while
/// being asked are left out: a hotplugged camera is not an error.
pub fn capture_devices() -> Vec<V4l2Device> {
    let mut out: Vec<V4l2Device> = v4l::context::enum_devices()
        .into_iter()
        .filter_map(|node| describe(node.path()))
        .collect();
    out.sort_by(|a, b| a.device.cmp(&b.device));
    out
}

fn describe(path: &Path) -> Option<V4l2Device> {
    let device = path.to_string_lossy().into_owned();
    let dev = open_cloexec(path).ok()?;
    let caps = dev.query_caps().ok()?;
    let captures = caps.capabilities.contains(Flags::VIDEO_CAPTURE)
        || caps.capabilities.contains(Flags::VIDEO_CAPTURE_MPLANE);
    if !captures
        || !caps.capabilities.contains(Flags::STREAMING)
        || NOT_CAMERAS.contains(&caps.driver.as_str())
    {
        return None;
    }
    let formats = formats_of(&device, &dev).ok()?;
    Some(V4l2Device {
        device,
        name: caps.card,
        driver: caps.driver,
        bus: caps.bus,
        formats,
    })
}
