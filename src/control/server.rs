//! The unix control socket: newline-delimited JSON requests, one reply line each.
//! Mode 0600 (only the daemon's user and root may command it); requests are bounded in size,
//! connections in number and idle time, so a misbehaving client cannot hurt the daemon.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{ControlError, Dispatcher, Reply};

pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
const MAX_CONNECTIONS: usize = 16;
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection must send its first request this soon: one that sends nothing gives its slot
/// back quickly instead of holding it for the idle timeout.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the socket, replacing a stale one left by a crash but refusing to steal a live one.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::AlreadyRunning(path.to_path_buf()));
        }
        fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    // The daemon's umask already makes it 0600; this holds even if someone changed that.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

pub async fn serve(
    listener: Arc<UnixListener>,
    dispatcher: Dispatcher,
    cancel: CancellationToken,
) -> Result<(), ControlError> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "control: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("control: too many connections; refusing one");
            tokio::spawn(refuse(stream));
            continue;
        };
        let dispatcher = dispatcher.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, dispatcher, cancel).await {
                tracing::debug!(error = %e, "control: connection ended");
            }
            drop(permit);
        });
    }
}

async fn refuse(mut stream: UnixStream) {
    let _ = write_reply(
        &mut stream,
        &Reply::err(serde_json::Value::Null, "busy: too many connections"),
    )
    .await;
}

async fn write_reply(
    stream: &mut (impl AsyncWriteExt + Unpin),
    reply: &Reply,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).unwrap_or_default();
    line.push(b'\n');
    stream.write_all(&line).await
}

async fn connection(
    stream: UnixStream,
    dispatcher: Dispatcher,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    let mut timeout = FIRST_REQUEST_TIMEOUT;
    loop {
        line.clear();
        let limit = (MAX_REQUEST_BYTES + 1) as u64;
        let mut bounded = (&mut reader).take(limit);
        let n = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout(timeout, bounded.read_until(b'\n', &mut line)) => match r {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            },
        };
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_REQUEST_BYTES {
            let reply = Reply::err(
                serde_json::Value::Null,
                format!("request larger than {MAX_REQUEST_BYTES} bytes; closing"),
            );
            write_reply(&mut write, &reply).await?;
            // The rest of the oversized request is unread; the connection cannot resync.
            return Ok(());
        }
        let reply = dispatcher.answer(&line).await;
        write_reply(&mut write, &reply).await?;
        timeout = IDLE_TIMEOUT;
    }
}
