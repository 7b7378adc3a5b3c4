//! Signed A/B updates through RAUC (docs/IMAGE.md, "Updates"). What a bundle claims comes from
//! its signed manifest, checked by openssl against the keyring ([`bundle`], [`manifest`]);
//! whether this device may take it is plain logic ([`policy`]); RAUC writes the other slot and
//! sets U-Boot's boot order ([`rauc`]); after the reboot the new slot is committed only when
//! the device does its job again ([`gate`]). camvault never writes a slot itself.

mod agent;
mod bundle;
pub mod download;
pub mod gate;
mod manifest;
mod pending;
mod policy;
mod rauc;

pub use agent::{Offer, OtaHandle, request_reboot, spawn};
pub use bundle::verify;
pub use manifest::Manifest;
pub use policy::{Refusal, Running, check};
pub use rauc::{HighestEpoch, install, installed_version, resign, running};

#[derive(Debug, thiserror::Error)]
pub enum OtaError {
    #[error("{path}: not a RAUC bundle ({why})")]
    NotABundle { path: String, why: String },
    #[error("the bundle's signature does not check out against {keyring}: {detail}")]
    Signature { keyring: String, detail: String },
    #[error("the bundle's manifest: {0}")]
    Manifest(String),
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("{program}: {detail}")]
    Tool { program: String, detail: String },
    #[error("download: {0}")]
    Download(String),
    #[error("an update is already in progress")]
    Busy,
    #[error("no update on offer: give url, sha256 and version, or announce one on ota/latest")]
    NoOffer,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A tool run to completion with a clean environment (nothing of ours reaches it); its
/// stderr is the error when it fails.
fn tool(program: &str, args: &[&std::ffi::OsStr], stdin: &[u8]) -> Result<Vec<u8>, OtaError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let failed = |detail: String| OtaError::Tool {
        program: program.to_string(),
        detail,
    };
    let mut cmd = Command::new(program);
    // SAFETY: the hook makes one async-signal-safe syscall (or fcntls).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(
            &mut cmd,
            crate::base::fds::cloexec_above_stdio,
        );
    }
    let mut child = cmd
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let mut pipe = child.stdin.take().expect("piped");
    // A child that stops reading early (a bad argument) must not wedge us on a full pipe.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}
