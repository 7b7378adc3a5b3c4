//! Rules for every child process: argv (never a shell), its own process group, a clean
//! environment with TZ=UTC (ffmpeg's strftime names files in local time), no descriptor of
//! ours but stdio, stdin closed, killed if camvault dies, stopped with one SIGINT then SIGKILL
//! after a timeout, and always reaped.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::MediaError;

/// A command with a clean environment: only `PATH` and `TZ=UTC`. Nothing of ours (the
/// `CAMVAULT_*` overrides, `AWS_*` credentials, `NOTIFY_SOCKET`) reaches a child.
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        )
        .env("TZ", "UTC");
    // SAFETY: the hook makes one async-signal-safe syscall (or fcntls).
    unsafe {
        cmd.pre_exec(crate::base::fds::cloexec_above_stdio);
    }
    cmd
}

pub fn spawn(program: &str, args: &[OsString]) -> Result<Child, MediaError> {
    spawn_io(program, args, Stdio::null())
}

/// [`spawn`] with a pipe to the child's stdin (the relay feeds its RTMP session that way).
pub fn spawn_with_stdin(program: &str, args: &[OsString]) -> Result<Child, MediaError> {
    spawn_io(program, args, Stdio::piped())
}

fn spawn_io(program: &str, args: &[OsString], stdin: Stdio) -> Result<Child, MediaError> {
    let parent = std::process::id();
    let mut cmd = command(program);
    cmd.args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: between fork and exec only async-signal-safe calls: prctl, getppid, _exit.
    unsafe {
        cmd.pre_exec(move || {
            // A kill -9 of camvault must not leave an orphan ffmpeg writing into the folder the
            // next camvault records into.
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            if std::os::unix::process::parent_id() != parent {
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| MediaError::Spawn {
        program: program.to_string(),
        source,
    })
}

/// Runs a short-lived tool (ffprobe, an ffmpeg query) to completion and collects its output.
pub async fn output<I, S>(program: &str, args: I) -> Result<std::process::Output, MediaError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    command(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| MediaError::Spawn {
            program: program.to_string(),
            source,
        })
}

/// Runs a short-lived tool to success; its last words on stderr are the error otherwise.
/// `what` names the job in that error ("ffmpeg (clip)").
pub async fn run<I, S>(what: &str, program: &str, args: I) -> Result<(), MediaError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = output(program, args).await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(MediaError::Failed {
            program: what.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// One SIGINT to the child's group (ffmpeg then finishes the file it writes; a second one
/// would make it abort without doing so), SIGKILL after `timeout`, then reaped.
pub async fn stop(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    if let Some(pid) = child.id() {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGINT);
    }
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            if let Some(pid) = child.id() {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            child.wait().await.ok()
        }
    }
}
