//! The SQLite store: one thread owns the connection; everyone else sends it closures.
//!
//! Writes are batched: the first write after a commit opens an IMMEDIATE transaction, and the
//! thread commits it when `commit_interval` (1 s) has passed, when someone asks for a flush,
//! or when the store closes. So steady state costs at most one commit (one WAL fsync, with
//! `synchronous = FULL`) per second however many segments, parts and counters change.
//!
//! Durability contract: `write` returns once the change is applied (visible to later reads
//! through this store) but not yet durable; `durable` resolves at the next commit and
//! `flush` forces one. Callers that must not lose a change across a power cut (an upload
//! marked complete, a segment marked closed before its file may be deleted) await one of
//! those. A power cut loses at most the last uncommitted second of writes, never corrupts the
//! database (WAL), and every such write can be redone: see docs/ARCHITECTURE.md.

mod auto;
mod db;
mod error;
mod jobs;
pub mod keys;
mod lifecycle;
mod model;
mod relay;
pub mod schema;
mod totals;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};

use parking_lot::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

pub use auto::{AutoCamera, FoundBy};
pub use db::Db;
pub use error::{CommitError, StoreError};
pub use jobs::{Job, JobState, PartRow, QueueSummary, Unqueued};
pub use keys::QueuePolicy;
pub use lifecycle::{Covered, DeletionCounts, StoredFile};
pub use model::*;
pub use relay::RelayProgress;
pub use totals::MediaTotals;

/// Runs against the connection, replies to its caller, and says whether it succeeded.
type Task = Box<dyn FnOnce(&Db) -> bool + Send>;

enum Msg {
    Read(Task),
    Write(Task),
    /// Reply at the next commit (immediately when nothing is pending).
    Durable(oneshot::Sender<Result<(), CommitError>>),
    /// Commit now, then reply.
    Flush(oneshot::Sender<Result<(), CommitError>>),
    /// Commit and stop, whoever else still holds a handle.
    Close,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub commit_interval: Duration,
    pub busy_timeout: Duration,
    /// With uploads configured: every closed file gets its upload job in the transaction
    /// that records it.
    pub queue: Option<QueuePolicy>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            commit_interval: Duration::from_secs(1),
            busy_timeout: Duration::from_secs(5),
            queue: None,
        }
    }
}

/// A cheap, cloneable handle to the store thread. The thread commits and exits on
/// [`Store::close`] or when the last handle is dropped.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) and migrates the database: the daemon's way in.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let p = path.to_path_buf();
        Self::spawn(path, opts, move |opts| {
            let mut conn = Connection::open(&p).map_err(|source| StoreError::Open {
                path: p.clone(),
                source,
            })?;
            configure(&conn, opts).map_err(|source| StoreError::Open {
                path: p.clone(),
                source,
            })?;
            schema::upgrade_to(&mut conn, schema::LATEST)?;
            Ok(conn)
        })
    }

    /// Opens an existing database read-only, for the CLI: it never migrates or creates, so a
    /// running daemon (perhaps of another version) is never disturbed.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let p = path.to_path_buf();
        Self::spawn(path, StoreOptions::default(), move |opts| {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn =
                Connection::open_with_flags(&p, flags).map_err(|source| StoreError::Open {
                    path: p.clone(),
                    source,
                })?;
            conn.busy_timeout(opts.busy_timeout)?;
            let found = schema::version(&conn)?;
            let known = schema::LATEST;
            match found.cmp(&known) {
                std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew { found, known }),
                std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld { found, known }),
                std::cmp::Ordering::Equal => Ok(conn),
            }
        })
    }

    fn spawn(
        path: &Path,
        opts: StoreOptions,
        open: impl FnOnce(&StoreOptions) -> Result<Connection, StoreError> + Send + 'static,
    ) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || match open(&opts) {
                Ok(conn) => {
                    let _ = ready_tx.send(Ok(()));
                    Owner::new(conn, opts, c).run(rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(StoreError::Thread)?;
        ready_rx.recv().map_err(|_| StoreError::Closed)??;
        Ok(Store {
            tx,
            counters,
            thread: Arc::new(Mutex::new(Some(thread))),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits and writes so far: the batching is observable, for health and tests.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
        }
    }

    fn send<R: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&Db) -> Result<R, StoreError> + Send + 'static,
    ) -> oneshot::Receiver<Result<R, StoreError>> {
        let (reply, rx) = oneshot::channel();
        let job: Task = Box::new(move |db| {
            let result = f(db);
            let ok = result.is_ok();
            let _ = reply.send(result);
            ok
        });
        let msg = if write {
            Msg::Write(job)
        } else {
            Msg::Read(job)
        };
        // A failed send drops `reply`, which the receiver sees as Closed.
        let _ = self.tx.send(msg);
        rx
    }

    /// Runs `f` on the store thread; it sees every write made through this store so far.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.send(false, f).await.map_err(|_| StoreError::Closed)?
    }

    /// Applies `f` inside the current batch (all of it or none of it). Not yet durable.
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.send(true, f).await.map_err(|_| StoreError::Closed)?
    }

    pub fn blocking_read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.send(false, f)
            .blocking_recv()
            .map_err(|_| StoreError::Closed)?
    }

    pub fn blocking_write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.send(true, f)
            .blocking_recv()
            .map_err(|_| StoreError::Closed)?
    }

    fn ask(&self, flush: bool) -> oneshot::Receiver<Result<(), CommitError>> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(if flush {
            Msg::Flush(reply)
        } else {
            Msg::Durable(reply)
        });
        rx
    }

    fn answered(
        r: Result<Result<(), CommitError>, oneshot::error::RecvError>,
    ) -> Result<(), StoreError> {
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Commit(e)),
            Err(_) => Err(StoreError::Closed),
        }
    }

    /// Resolves when every write made so far is committed, at the next regular commit.
    pub async fn durable(&self) -> Result<(), StoreError> {
        Self::answered(self.ask(false).await)
    }

    /// Commits now; every write made so far is durable when this returns.
    pub async fn flush(&self) -> Result<(), StoreError> {
        Self::answered(self.ask(true).await)
    }

    pub fn blocking_flush(&self) -> Result<(), StoreError> {
        Self::answered(self.ask(true).blocking_recv())
    }

    /// Commits what is pending and stops the thread for every handle; later calls through
    /// any handle fail with `Closed`. Blocking: call it from `spawn_blocking` in a runtime.
    pub fn close(self) -> Result<(), StoreError> {
        let flushed = self.blocking_flush();
        let _ = self.tx.send(Msg::Close);
        let handle = self.thread.lock().take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        flushed
    }
}

fn configure(conn: &Connection, opts: &StoreOptions) -> rusqlite::Result<()> {
    conn.busy_timeout(opts.busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "the database could not switch to WAL");
    }
    // FULL: a commit is on disk when it returns. Batching keeps that to one fsync a second.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    pub commits: u64,
    pub writes: u64,
}

/// The thread that owns the connection.
struct Owner {
    db: Db,
    counters: Arc<Counters>,
    opts: StoreOptions,
    /// When the open batch began; None when nothing is pending.
    batch_started: Option<Instant>,
    waiting: Vec<oneshot::Sender<Result<(), CommitError>>>,
}

impl Owner {
    fn new(conn: Connection, opts: StoreOptions, counters: Arc<Counters>) -> Self {
        Owner {
            db: Db {
                conn,
                queue: opts.queue.clone(),
            },
            counters,
            opts,
            batch_started: None,
            waiting: Vec::new(),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            let msg = match self.batch_started {
                None => match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
                Some(started) => {
                    let wait = (started + self.opts.commit_interval)
                        .saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => {
                            self.commit();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            match msg {
                Msg::Read(job) => {
                    job(&self.db);
                }
                Msg::Write(job) => self.write(job),
                Msg::Durable(reply) if self.batch_started.is_some() => self.waiting.push(reply),
                Msg::Durable(reply) => {
                    let _ = reply.send(Ok(()));
                }
                Msg::Flush(reply) => {
                    self.waiting.push(reply);
                    self.commit();
                }
                Msg::Close => break,
            }
        }
        self.commit();
    }

    fn write(&mut self, job: Task) {
        if self.batch_started.is_none() {
            match self.db.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => self.batch_started = Some(Instant::now()),
                // Autocommit still works, just unbatched; the lock is usually back soon.
                Err(e) => tracing::error!(error = %e, "store: cannot begin a batch"),
            }
        }
        // A savepoint per write: a failing write is undone alone and the batch goes on.
        self.counters.writes.fetch_add(1, Ordering::Relaxed);
        let saved = self.db.conn.execute_batch("SAVEPOINT w").is_ok();
        let ok = job(&self.db);
        if saved {
            let end = if ok {
                "RELEASE w"
            } else {
                "ROLLBACK TO w; RELEASE w"
            };
            if let Err(e) = self.db.conn.execute_batch(end) {
                tracing::error!(error = %e, "store: cannot end a write");
            }
        }
    }

    fn commit(&mut self) {
        let result = match self.batch_started.take() {
            Some(_) => self
                .db
                .conn
                .execute_batch("COMMIT")
                .map(|()| {
                    self.counters.commits.fetch_add(1, Ordering::Relaxed);
                })
                .map_err(|e| {
                    tracing::error!(error = %e, "store: commit failed; the batch is lost");
                    let _ = self.db.conn.execute_batch("ROLLBACK");
                    Arc::new(e)
                }),
            None => Ok(()),
        };
        for w in self.waiting.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}
