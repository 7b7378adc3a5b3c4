//! The CLI's side of the control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{ControlError, Reply, Request};

/// Sends one command and waits for its reply. `NotRunning` when no daemon listens.
pub fn request(socket: &Path, name: &str, args: Value) -> Result<Reply, ControlError> {
    request_within(socket, name, args, Duration::from_secs(15))
}

/// [`request`] for commands that take long by nature (a clip waits for its post-roll).
pub fn request_within(
    socket: &Path,
    name: &str,
    args: Value,
    timeout: Duration,
) -> Result<Reply, ControlError> {
    let io = |source| ControlError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ControlError::NotRunning(socket.to_path_buf()));
        }
        Err(e) => return Err(io(e)),
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    let request_id = Value::from(std::process::id());
    // A daemon with every connection taken answers `busy` and hangs up at once, maybe before
    // our request is written: its answer is still there to read.
    let written = stream.write_all(&Request::encode(name, args, request_id));
    let mut line = String::new();
    let read = BufReader::new(&stream).read_line(&mut line);
    match (written, read) {
        (_, Ok(n)) if n > 0 => {
            serde_json::from_str(&line).map_err(|e| ControlError::Protocol(e.to_string()))
        }
        (Err(e), _) | (Ok(()), Err(e)) => Err(io(e)),
        (Ok(()), Ok(_)) => Err(ControlError::Protocol("the daemon hung up".into())),
    }
}
