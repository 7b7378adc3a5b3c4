//! Children inherit no descriptor of ours but stdio. Rust and the crates camvault uses open
//! everything close-on-exec, but not all (the `v4l` crate's device handles are not): a
//! device opened on one thread while another starts ffmpeg would stay open in that ffmpeg
//! for its whole life, and an unplugged camera's driver could never be unloaded.

use nix::libc;

/// For `pre_exec`: marks every descriptor above stderr close-on-exec. Async-signal-safe:
/// one `close_range` call, or on kernels before 5.11 one `fcntl` per possible descriptor.
/// Marking rather than closing keeps the pipe the standard library reports exec errors on.
pub fn cloexec_above_stdio() -> std::io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags of this (forked) process.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        for fd in 3..4096 {
            // SAFETY: F_SETFD on a descriptor number; EBADF for unused ones is ignored.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

/// Marks one descriptor close-on-exec (for handles a crate opened without the flag).
pub fn set_cloexec(fd: std::os::fd::RawFd) {
    // SAFETY: F_SETFD on a descriptor we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_sees_only_stdio() {
        use std::os::unix::process::CommandExt;
        // A descriptor opened without close-on-exec, as the v4l crate does.
        let path = std::ffi::CString::new("/dev/null").unwrap();
        // SAFETY: open(2) with a valid path; the descriptor is closed below.
        let opened = unsafe { nix::libc::open(path.as_ptr(), nix::libc::O_RDONLY) };
        // A number no `ls` would take for its own listing.
        // SAFETY: dup2 onto a free descriptor number; both are closed below.
        let fd = unsafe { nix::libc::dup2(opened, 200) };
        assert_eq!(fd, 200);
        let list = |guard: bool| {
            let mut cmd = std::process::Command::new("ls");
            cmd.arg("/proc/self/fd");
            if guard {
                // SAFETY: the hook is async-signal-safe.
                unsafe { cmd.pre_exec(super::cloexec_above_stdio) };
            }
            String::from_utf8(cmd.output().unwrap().stdout).unwrap()
        };
        let leaked = list(false);
        let guarded = list(true);
        // SAFETY: closing the descriptors opened above.
        unsafe {
            nix::libc::close(fd);
            nix::libc::close(opened);
        }
        assert!(
            leaked.split_whitespace().any(|f| f == fd.to_string()),
            "{leaked}"
        );
        assert!(
            !guarded.split_whitespace().any(|f| f == fd.to_string()),
            "{guarded}"
        );
    }
}
