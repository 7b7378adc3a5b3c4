//! An inotify instance the tokio reactor can wait on: the relay's inbox and V4L2 hotplug
//! (`/dev`) both watch a folder this way.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent};
use tokio::io::unix::AsyncFd;

pub struct Watch(Inotify);

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Watch {
    /// What happened since the last read; `EAGAIN` when nothing did.
    pub fn read_events(&self) -> nix::Result<Vec<InotifyEvent>> {
        self.0.read_events()
    }
}

/// Watches `dir` for `events`, non-blocking.
pub fn watch(dir: &Path, events: AddWatchFlags) -> std::io::Result<AsyncFd<Watch>> {
    let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
    ino.add_watch(dir, events)?;
    // SAFETY: `Watch` owns the inotify descriptor, which stays open and the same until the
    // AsyncFd (and with it the Watch) is dropped.
    unsafe { AsyncFd::register_with_interest(Watch(ino), tokio::io::Interest::READABLE) }
        .map_err(|e| std::io::Error::other(e.to_string()))
}
