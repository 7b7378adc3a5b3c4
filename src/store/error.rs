use std::path::PathBuf;
use std::sync::Arc;

/// One failed commit, told to every writer that waited for it.
pub type CommitError = Arc<rusqlite::Error>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("no database at {} (has the daemon run yet?)", .0.display())]
    Missing(PathBuf),
    #[error(
        "database schema v{found} is newer than this camvault knows (v{known}); refusing to touch it"
    )]
    SchemaTooNew { found: u32, known: u32 },
    #[error("database schema v{found} is older than v{known}; start the daemon once to upgrade it")]
    SchemaTooOld { found: u32, known: u32 },
    #[error("migration to v{version} failed: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no camera named `{0}` in the database")]
    UnknownCamera(String),
    #[error("cannot start the store thread: {0}")]
    Thread(std::io::Error),
    #[error("commit failed: {0}")]
    Commit(CommitError),
    #[error("the store has shut down")]
    Closed,
}
