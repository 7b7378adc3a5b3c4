fn main() -> std::process::ExitCode {
    camvault::cli::main()
}
