//! What the command line accepts, as clap parses it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::ota;

#[derive(Parser)]
#[command(
    name = "camvault",
    version,
    about = "Records cameras, queues segments in SQLite, uploads them to S3."
)]
pub(super) struct Cli {
    /// Config file [default: $CAMVAULT_CONFIG, then /etc/camvault/camvault.toml]
    #[arg(long, global = true, env = "CAMVAULT_CONFIG", value_name = "PATH")]
    pub(super) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(super) command: Cmd,
}

#[derive(Subcommand)]
pub(super) enum Cmd {
    /// Run the daemon
    Run,
    /// Run the main job on embedded defaults, with no outside service
    Demo {
        /// Where the demo keeps its data [default: ./camvault-demo]
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Stop after this many seconds [default: run until Ctrl-C]
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Validate the config and print the effective config, secrets redacted
    CheckConfig,
    /// First boot: add a device id and FTP passwords the config lacks (the image runs this)
    Provision {
        /// Where generated secrets are written (0600)
        #[arg(long)]
        state_dir: PathBuf,
        /// Where the new passwords are written once for the user
        #[arg(long)]
        credentials: Option<PathBuf>,
    },
    /// Live state from the daemon, or from the store when the daemon is down
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The segment index
    Segments {
        #[arg(long)]
        camera: Option<String>,
        /// RFC 3339 time, or relative like -2h
        #[arg(long, allow_hyphen_values = true)]
        since: Option<String>,
        /// RFC 3339 time, or relative like -30m
        #[arg(long, allow_hyphen_values = true)]
        until: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// Which files: continuous footage, clips, snapshots, or all of them
        #[arg(long, value_enum, default_value = "continuous")]
        kind: KindArg,
        #[arg(long)]
        json: bool,
    },
    /// The upload queue: pending, in flight, failed
    Queue {
        #[arg(long)]
        json: bool,
    },
    /// Ask the daemon for a snapshot; prints its local path and object key
    Snapshot {
        camera: String,
        /// Also copy the JPEG here
        #[arg(long)]
        out: Option<PathBuf>,
        /// Why, carried by the snapshot.ready event (default "manual")
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Ask the daemon for an event clip (waits until the post-roll is recorded)
    Clip {
        camera: String,
        /// RFC 3339 time, or relative like -5m [default: now]
        #[arg(long, allow_hyphen_values = true)]
        at: Option<String>,
        /// Seconds before `at` [default: 10]
        #[arg(long)]
        pre: Option<u32>,
        /// Seconds after `at` [default: 30]
        #[arg(long)]
        post: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Switch a camera's recording on or off (kept across restarts)
    Record {
        camera: String,
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Pause or resume uploads, or put failed jobs back in the queue
    Upload {
        #[arg(value_enum)]
        action: UploadVerb,
    },
    /// Start or stop the FTP-to-RTMP relay
    Relay {
        #[arg(value_enum)]
        action: RelayVerb,
    },
    /// Find cameras: ONVIF on the LAN, V4L2 devices attached, `_rtsp._tcp` services
    Discover {
        /// Print JSON instead of a list
        #[arg(long)]
        json: bool,
    },
    /// Check or install a signed update bundle (RAUC)
    Ota {
        #[command(subcommand)]
        action: ota::OtaCmd,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum KindArg {
    Continuous,
    Clip,
    Snapshot,
    All,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum UploadVerb {
    Pause,
    Resume,
    RetryFailed,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum RelayVerb {
    Start,
    Stop,
}
