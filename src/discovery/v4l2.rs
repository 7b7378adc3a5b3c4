//! V4L2 hotplug: `/dev` watched with inotify, and the capture devices listed again (through
//! the `v4l` crate) whenever a `video*` node comes, goes or changes owner (udev gives the
//! `video` group access a moment after the node appears).

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::inotify::AddWatchFlags;
use tokio::io::unix::AsyncFd;

use crate::base::inotify::Watch;
use crate::media::v4l2::V4l2Device;

/// Capture devices as they come: the first call returns every device present.
pub struct Watcher {
    inotify: AsyncFd<Watch>,
    known: BTreeSet<String>,
}

impl Watcher {
    pub fn new() -> std::io::Result<Watcher> {
        let inotify = crate::base::inotify::watch(
            std::path::Path::new("/dev"),
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_ATTRIB,
        )?;
        Ok(Watcher {
            inotify,
            known: BTreeSet::new(),
        })
    }

    /// Devices that were not there at the last look (all of them the first time); a device
    /// that goes away is forgotten, so plugging it in again finds it again.
    pub async fn scan(&mut self) -> Vec<V4l2Device> {
        let now = tokio::task::spawn_blocking(crate::media::v4l2::capture_devices)
            .await
            .unwrap_or_default();
        let paths: BTreeSet<String> = now.iter().map(|d| d.device.clone()).collect();
        self.known.retain(|p| paths.contains(p));
        now.into_iter()
            .filter(|d| self.known.insert(d.device.clone()))
            .collect()
    }

    /// Waits for a `video*` node to change, then for the burst of events to settle.
    pub async fn changed(&mut self) -> std::io::Result<()> {
        loop {
            let mut guard = self.inotify.readable().await?;
            let events = match guard.get_inner().read_events() {
                Ok(e) => e,
                Err(nix::Error::EAGAIN) => {
                    guard.clear_ready();
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let video = events.iter().any(|e| {
                e.name
                    .as_ref()
                    .is_some_and(|n| n.to_string_lossy().starts_with("video"))
            });
            if video {
                tokio::time::sleep(Duration::from_millis(500)).await;
                // What came in meanwhile belongs to the same change.
                let _ = self.inotify.get_ref().read_events();
                return Ok(());
            }
        }
    }
}

/// The steadiest name of a node: `/dev/v4l/by-id/…` (a USB camera on any port), else
/// `/dev/v4l/by-path/…`, else the node itself.
pub fn stable_path(node: &str) -> String {
    let real = std::fs::canonicalize(node).ok();
    for dir in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut links: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        links.sort();
        if let Some(l) = links
            .into_iter()
            .find(|l| real.is_some() && std::fs::canonicalize(l).ok() == real)
        {
            return l.display().to_string();
        }
    }
    node.to_string()
}
