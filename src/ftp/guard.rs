//! Recording has priority over the FTP inbox on the card: an upload is refused (452) when the
//! disk is near its critical mark, and one under way is cut off (and its partial file
//! removed) when it reaches it. A finished upload is flushed to the card (file and folder
//! entry) before the server answers 226. Everything else is the filesystem back-end's own.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use tokio::io::{AsyncRead, ReadBuf};
use unftp_core::auth::UserDetail;
use unftp_core::storage::{Error, ErrorKind, Fileinfo, Result, StorageBackend};

use crate::base::durable::fsync_file_and_dir;
use crate::health::disk_status;

/// The fill (percent) above which new uploads are refused, and the one at which an upload
/// under way is cut off.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub refuse_at: f64,
    pub cut_at: f64,
}

impl Limits {
    /// One point under retention's critical mark for new uploads, the mark itself to cut.
    pub fn below_critical(critical_percent: f64) -> Limits {
        Limits {
            refuse_at: critical_percent - 1.0,
            cut_at: critical_percent,
        }
    }
}

#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    root: PathBuf,
    limits: Limits,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, root: PathBuf, limits: Limits) -> Self {
        Guarded {
            inner,
            root,
            limits,
        }
    }
}

/// `path` as a name inside the inbox, if it is one (no root, no `..`).
fn plain_name(path: &Path) -> Option<&Path> {
    let name = path.strip_prefix("/").unwrap_or(path);
    name.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then_some(name)
}

fn used_percent(root: &Path) -> f64 {
    disk_status(root).map_or(0.0, |d| d.used_percent)
}

#[async_trait]
impl<U: UserDetail + 'static, S: StorageBackend<U>> StorageBackend<U> for Guarded<S> {
    type Metadata = S::Metadata;

    fn enter(&mut self, user: &U) -> std::io::Result<()> {
        self.inner.enter(user)
    }

    fn supported_features(&self) -> u32 {
        self.inner.supported_features()
    }

    async fn metadata<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &U,
        path: P,
    ) -> Result<Self::Metadata> {
        self.inner.metadata(user, path).await
    }

    async fn list<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &U,
        path: P,
    ) -> Result<Vec<Fileinfo<PathBuf, Self::Metadata>>> {
        self.inner.list(user, path).await
    }

    async fn get<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &U,
        path: P,
        start_pos: u64,
    ) -> Result<Box<dyn AsyncRead + Send + Sync + Unpin>> {
        self.inner.get(user, path, start_pos).await
    }

    async fn put<P: AsRef<Path> + Send + Debug, R: AsyncRead + Send + Sync + Unpin + 'static>(
        &self,
        user: &U,
        input: R,
        path: P,
        start_pos: u64,
    ) -> Result<u64> {
        let used = used_percent(&self.root);
        if used >= self.limits.refuse_at {
            tracing::warn!(
                used_percent = used,
                "ftp: card nearly full; upload refused (recording first)"
            );
            return Err(Error::from(ErrorKind::InsufficientStorageSpaceError));
        }
        let watched = Watched {
            input,
            root: self.root.clone(),
            cut_at: self.limits.cut_at,
            since_check: 0,
        };
        let rel = path.as_ref().to_path_buf();
        let result = self.inner.put(user, watched, &rel, start_pos).await;
        // Only a plain name inside the inbox: a client's `../camvault.db`, refused by the
        // backend, must not become our delete (or sync) of the database.
        let Some(file) = plain_name(&rel).map(|n| self.root.join(n)) else {
            return result;
        };
        match result {
            Ok(bytes) => {
                // On the card before the 226 reply: a camera told its clip arrived deletes its
                // copy, and a power cut must not take the only one left.
                let synced = tokio::task::spawn_blocking(move || fsync_file_and_dir(&file))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
                match synced {
                    Ok(_) => Ok(bytes),
                    Err(e) => Err(Error::new(ErrorKind::LocalError, e)),
                }
            }
            Err(e) => {
                // An upload cut off is never a file anyone wants: give its space back.
                let _ = std::fs::remove_file(file);
                Err(e)
            }
        }
    }

    async fn del<P: AsRef<Path> + Send + Debug>(&self, user: &U, path: P) -> Result<()> {
        self.inner.del(user, path).await
    }

    async fn mkd<P: AsRef<Path> + Send + Debug>(&self, user: &U, path: P) -> Result<()> {
        self.inner.mkd(user, path).await
    }

    async fn rename<P: AsRef<Path> + Send + Debug>(&self, user: &U, from: P, to: P) -> Result<()> {
        self.inner.rename(user, from, to).await
    }

    async fn rmd<P: AsRef<Path> + Send + Debug>(&self, user: &U, path: P) -> Result<()> {
        self.inner.rmd(user, path).await
    }

    async fn cwd<P: AsRef<Path> + Send + Debug>(&self, user: &U, path: P) -> Result<()> {
        self.inner.cwd(user, path).await
    }
}

/// Look at the disk after this many bytes of an upload.
const CHECK_EVERY: usize = 1 << 20;

/// The upload's bytes, cut off with an error once the disk reaches `cut_at`.
struct Watched<R> {
    input: R,
    root: PathBuf,
    cut_at: f64,
    since_check: usize,
}

impl<R: AsyncRead + Unpin> AsyncRead for Watched<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.since_check >= CHECK_EVERY {
            self.since_check = 0;
            // One statvfs per MiB: cheap next to writing that MiB.
            let used = used_percent(&self.root);
            if used >= self.cut_at {
                tracing::warn!(
                    used_percent = used,
                    "ftp: card critical; upload cut off (recording first)"
                );
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "the card is nearly full: recording has priority",
                )));
            }
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.input).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.since_check += n;
        r
    }
}
