fn main() -> std::process::ExitCode {
    tune_allocator();
    camvault::cli::main()
}

/// glibc only (the static musl build has no arenas): upload parts are 8 MiB buffers freed
/// after each part. glibc's dynamic mmap threshold would soon serve them from its heaps and
/// keep the memory, and every blocking thread that hashes a part would get an arena of its
/// own; a fixed threshold and two arenas keep the daemon's RSS flat whatever the file size.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, 1 << 20);
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 2);
    }
}
