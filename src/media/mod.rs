//! ffmpeg and ffprobe: argv construction and output parsing as plain functions (tested without
//! a process), and the child-process rules every ffmpeg we start follows.

pub mod args;
pub mod fmp4;
pub mod probe;
pub mod process;
pub mod progress;
pub mod testsrc;
pub mod v4l2;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} failed: {detail}")]
    Failed { program: String, detail: String },
    #[error("{}: not playable ({detail})", path.display())]
    Unplayable { path: PathBuf, detail: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
