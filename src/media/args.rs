//! The argv of a recording ffmpeg. No shell is ever involved: each element is one argument.

use std::ffi::OsString;
use std::path::Path;

use super::v4l2::V4l2Choice;
use crate::config::{AudioMode, CameraConfig, SourceKind};

/// What the recorder needs to know to build the command line.
pub struct RecordSpec<'a> {
    pub camera: &'a CameraConfig,
    /// `<data_dir>/recordings/<camera>`; day folders and file names are added here.
    pub camera_dir: &'a Path,
    /// The looped clip that plays the part of a `test:` camera.
    pub test_clip: &'a Path,
    pub segment_seconds: u32,
    pub fragment_seconds: u32,
    /// The ffmpeg encoder for `encoder = "auto"`, chosen from what ffmpeg offers.
    pub auto_encoder: &'a str,
    /// For a V4L2 source: the format chosen from what the device offers.
    pub v4l2: Option<&'a V4l2Choice>,
    /// For an RTSP source with credentials: a private (0600) ffconcat file naming the
    /// camera URL ([`rtsp_list`]), so the password never appears on ffmpeg's command line,
    /// which every local user can read in /proc.
    pub rtsp_list: Option<&'a Path>,
}

/// The ffconcat file that opens an RTSP camera, options included: the concat demuxer opens
/// the URL itself, with these options, and passes the live stream through.
pub fn rtsp_list(url: &str) -> String {
    format!(
        "ffconcat version 1.0\nfile '{}'\noption rtsp_transport tcp\noption timeout {RTSP_TIMEOUT_US}\n",
        url.replace('\'', "'\\''")
    )
}

fn push(v: &mut Vec<OsString>, items: &[&str]) {
    v.extend(items.iter().map(OsString::from));
}

/// Socket I/O timeout for RTSP, so a frozen camera makes ffmpeg exit rather than hang.
pub const RTSP_TIMEOUT_US: u64 = 5_000_000;

/// The video encoder a camera records with, or "copy".
fn video_encoder<'a>(spec: &RecordSpec<'a>) -> &'a str {
    let cam = spec.camera;
    // A test camera's clip is already H.264: copying is the whole point of it being cheap.
    if cam.kind == SourceKind::Test {
        return "copy";
    }
    let raw_v4l2 = spec.v4l2.is_some_and(|c| !c.copy);
    match cam.encoder.as_str() {
        // Raw or MJPEG frames cannot be copied into an H.264 recording.
        "copy" if raw_v4l2 => spec.auto_encoder,
        "auto" if spec.v4l2.is_some_and(|c| c.copy) => "copy",
        "auto" => spec.auto_encoder,
        other if spec.v4l2.is_some_and(|c| c.copy) && other != "copy" => "copy",
        other => other,
    }
}

/// Whether the camera's video is copied, not encoded: then the lean `recording.ffmpeg`
/// can record it.
pub fn copies_video(spec: &RecordSpec<'_>) -> bool {
    video_encoder(spec) == "copy"
}

pub fn record_args(spec: &RecordSpec<'_>) -> Vec<OsString> {
    let mut a = Vec::new();
    // level+info: each log line carries its level; progress comes as key=value lines on stderr;
    // the segment list (one CSV line per closed segment) comes on stdout.
    push(
        &mut a,
        &[
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "level+info",
            "-nostats",
            "-progress",
            "pipe:2",
            "-stats_period",
            "1",
        ],
    );
    let cam = spec.camera;
    let kind = cam.kind;
    match kind {
        SourceKind::Rtsp if spec.rtsp_list.is_some() => {
            push(
                &mut a,
                &[
                    "-f",
                    "concat",
                    "-safe",
                    "0",
                    "-protocol_whitelist",
                    "file,rtsp,rtsps,rtp,srtp,tcp,udp,tls",
                    "-i",
                ],
            );
            a.push(spec.rtsp_list.unwrap_or(Path::new("")).into());
        }
        SourceKind::Rtsp => {
            push(
                &mut a,
                &[
                    "-rtsp_transport",
                    "tcp",
                    "-timeout",
                    &RTSP_TIMEOUT_US.to_string(),
                    "-i",
                ],
            );
            a.push(cam.source.expose().into());
        }
        SourceKind::V4l2 => {
            let device = cam.source.expose().trim_start_matches("v4l2://");
            push(&mut a, &["-f", "v4l2"]);
            if let Some(c) = spec.v4l2 {
                push(&mut a, &["-input_format", &c.input_format]);
                if let Some((w, h)) = c.size {
                    push(&mut a, &["-video_size", &format!("{w}x{h}")]);
                }
            }
            push(&mut a, &["-i", device]);
        }
        SourceKind::Test => {
            push(&mut a, &["-re", "-stream_loop", "-1", "-i"]);
            a.push(spec.test_clip.into());
        }
    }
    push(&mut a, &["-map", "0:v:0", "-map", "0:a:0?"]);
    let encoder = video_encoder(spec);
    if encoder == "copy" {
        push(&mut a, &["-c:v", "copy"]);
    } else {
        push(&mut a, &["-c:v", encoder, "-g", "50"]);
        if encoder == "libx264" {
            push(&mut a, &["-preset", "ultrafast", "-tune", "zerolatency"]);
        }
    }
    match cam.audio {
        AudioMode::Copy => push(&mut a, &["-c:a", "copy"]),
        AudioMode::Aac => push(&mut a, &["-c:a", "aac", "-b:a", "64k"]),
        AudioMode::None => push(&mut a, &["-an"]),
    }
    let frag_us = u64::from(spec.fragment_seconds) * 1_000_000;
    push(
        &mut a,
        &[
            "-f",
            "segment",
            "-segment_time",
            &spec.segment_seconds.to_string(),
            "-segment_atclocktime",
            "1",
            "-reset_timestamps",
            "1",
            "-strftime",
            "1",
            "-segment_format",
            "mp4",
            "-segment_format_options",
            &format!(
                "movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration={frag_us}"
            ),
            "-segment_list",
            "pipe:1",
            "-segment_list_type",
            "csv",
        ],
    );
    let pattern = spec
        .camera_dir
        .join("%Y-%m-%d")
        .join(format!("{}_%Y-%m-%d_%H-%M-%S.mp4", cam.name));
    a.push(pattern.into());
    a
}

/// One line of ffmpeg's CSV segment list: the file's base name and its start and end in
/// stream seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedSegment {
    pub file: String,
    pub start_s: f64,
    pub end_s: f64,
}

pub fn parse_segment_line(line: &str) -> Option<ListedSegment> {
    let mut parts = line.trim().rsplitn(3, ',');
    let end_s = parts.next()?.parse().ok()?;
    let start_s = parts.next()?.parse().ok()?;
    let file = parts.next()?.trim_matches('"').to_string();
    (!file.is_empty()).then_some(ListedSegment {
        file,
        start_s,
        end_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SensitiveUrl;

    fn cam(source: &str, encoder: &str, audio: AudioMode) -> CameraConfig {
        CameraConfig {
            name: "front".into(),
            source: SensitiveUrl::new(source),
            password_file: None,
            enabled: true,
            encoder: encoder.into(),
            audio,
            kind: SourceKind::of(&SensitiveUrl::new(source)).unwrap(),
        }
    }

    fn args(c: &CameraConfig) -> Vec<String> {
        args_v4l2(c, None)
    }

    fn args_v4l2(c: &CameraConfig, v4l2: Option<&V4l2Choice>) -> Vec<String> {
        let spec = RecordSpec {
            v4l2,
            camera: c,
            camera_dir: Path::new("/data/recordings/front"),
            test_clip: Path::new("/data/cache/testsrc.mp4"),
            segment_seconds: 600,
            fragment_seconds: 1,
            auto_encoder: "h264_v4l2m2m",
            rtsp_list: None,
        };
        record_args(&spec)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    fn has(a: &[String], pair: &[&str]) -> bool {
        a.windows(pair.len())
            .any(|w| w.iter().zip(pair).all(|(x, y)| x == y))
    }

    #[test]
    fn an_rtsp_password_goes_through_a_private_list_not_the_command_line() {
        let c = cam("rtsp://u:s3cr'et@10.0.0.2/s", "copy", AudioMode::Copy);
        let spec = RecordSpec {
            v4l2: None,
            camera: &c,
            camera_dir: Path::new("/data/recordings/front"),
            test_clip: Path::new("/data/cache/testsrc.mp4"),
            segment_seconds: 600,
            fragment_seconds: 1,
            auto_encoder: "libx264",
            rtsp_list: Some(Path::new("/data/cache/front.ffconcat")),
        };
        let a: Vec<String> = record_args(&spec)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert!(has(&a, &["-f", "concat", "-safe", "0"]));
        assert!(has(&a, &["-i", "/data/cache/front.ffconcat"]));
        assert!(!a.iter().any(|x| x.contains("s3cr")), "{a:?}");
        assert_eq!(
            rtsp_list("rtsp://u:s3cr'et@10.0.0.2/s"),
            "ffconcat version 1.0\nfile 'rtsp://u:s3cr'\\''et@10.0.0.2/s'\noption rtsp_transport tcp\noption timeout 5000000\n"
        );
    }

    #[test]
    fn rtsp_copy_over_tcp_into_clock_aligned_fragmented_segments() {
        let a = args(&cam("rtsp://u:p@10.0.0.2/s", "copy", AudioMode::Copy));
        assert!(has(
            &a,
            &[
                "-rtsp_transport",
                "tcp",
                "-timeout",
                "5000000",
                "-i",
                "rtsp://u:p@10.0.0.2/s"
            ]
        ));
        assert!(has(&a, &["-c:v", "copy"]) && has(&a, &["-c:a", "copy"]));
        assert!(has(
            &a,
            &["-segment_time", "600", "-segment_atclocktime", "1"]
        ));
        assert!(
            a.iter()
                .any(|x| x.contains("frag_duration=1000000") && x.contains("empty_moov"))
        );
        assert!(has(
            &a,
            &["-segment_list", "pipe:1", "-segment_list_type", "csv"]
        ));
        assert_eq!(
            a.last().unwrap(),
            "/data/recordings/front/%Y-%m-%d/front_%Y-%m-%d_%H-%M-%S.mp4"
        );
    }

    #[test]
    fn encoders_and_audio_modes() {
        let a = args(&cam("v4l2:///dev/video0", "auto", AudioMode::None));
        assert!(has(&a, &["-f", "v4l2", "-i", "/dev/video0"]));
        assert!(has(&a, &["-c:v", "h264_v4l2m2m"]) && a.contains(&"-an".to_string()));
        let a = args(&cam("rtsp://h/s", "libx264", AudioMode::Aac));
        assert!(has(
            &a,
            &["-c:v", "libx264", "-g", "50", "-preset", "ultrafast"]
        ));
        assert!(has(&a, &["-c:a", "aac"]));
        let a = args(&cam("test:", "libx264", AudioMode::Copy));
        assert!(has(
            &a,
            &["-re", "-stream_loop", "-1", "-i", "/data/cache/testsrc.mp4"]
        ));
        assert!(has(&a, &["-c:v", "copy"]), "test cameras always copy");
    }

    #[test]
    fn v4l2_copies_h264_and_encodes_the_rest() {
        let h264 = V4l2Choice {
            input_format: "h264".into(),
            size: Some((1920, 1080)),
            copy: true,
        };
        let a = args_v4l2(
            &cam("v4l2:///dev/video0", "libx264", AudioMode::None),
            Some(&h264),
        );
        assert!(has(
            &a,
            &[
                "-f",
                "v4l2",
                "-input_format",
                "h264",
                "-video_size",
                "1920x1080",
                "-i",
                "/dev/video0"
            ]
        ));
        assert!(has(&a, &["-c:v", "copy"]));
        let mjpeg = V4l2Choice {
            input_format: "mjpeg".into(),
            size: Some((1280, 720)),
            copy: false,
        };
        let a = args_v4l2(
            &cam("v4l2:///dev/video0", "copy", AudioMode::None),
            Some(&mjpeg),
        );
        assert!(
            has(&a, &["-c:v", "h264_v4l2m2m"]),
            "copy is impossible from MJPEG: {a:?}"
        );
        let a = args_v4l2(
            &cam("v4l2:///dev/video0", "libx264", AudioMode::None),
            Some(&mjpeg),
        );
        assert!(has(&a, &["-c:v", "libx264"]));
    }

    #[test]
    fn segment_list_lines() {
        assert_eq!(
            parse_segment_line("front_2026-01-24_14-30-00.mp4,12.006484,22.006484\n"),
            Some(ListedSegment {
                file: "front_2026-01-24_14-30-00.mp4".into(),
                start_s: 12.006484,
                end_s: 22.006484
            })
        );
        assert_eq!(
            parse_segment_line("\"a,b.mp4\",0.0,1.5").unwrap().file,
            "a,b.mp4"
        );
        assert_eq!(parse_segment_line("garbage"), None);
        assert_eq!(parse_segment_line(",1,2"), None);
    }

    #[test]
    fn only_cameras_that_copy_video_may_use_the_lean_ffmpeg() {
        let copies = |c: &CameraConfig, v4l2: Option<&V4l2Choice>| {
            copies_video(&RecordSpec {
                v4l2,
                camera: c,
                camera_dir: Path::new("/d"),
                test_clip: Path::new("/t.mp4"),
                segment_seconds: 600,
                fragment_seconds: 1,
                auto_encoder: "libx264",
                rtsp_list: None,
            })
        };
        let v4l2 = |format: &str, copy| V4l2Choice {
            input_format: format.into(),
            size: None,
            copy,
        };
        assert!(copies(
            &cam("rtsp://10.0.0.2/s", "copy", AudioMode::Aac),
            None
        ));
        assert!(!copies(
            &cam("rtsp://10.0.0.2/s", "libx264", AudioMode::Copy),
            None
        ));
        assert!(copies(&cam("test:", "libx264", AudioMode::Copy), None));
        let c = cam("v4l2:///dev/video0", "auto", AudioMode::None);
        assert!(copies(&c, Some(&v4l2("h264", true))));
        assert!(!copies(&c, Some(&v4l2("mjpeg", false))));
    }
}
