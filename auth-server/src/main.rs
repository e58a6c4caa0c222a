//! `auth-server`: parse the command line, then serve or run an ops command.

use clap::Parser;

/// mimalloc rather than glibc's malloc, as in the resource API (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // `./.env` only: never a parent directory's.
    if let Err(e) = shared::config::load_dotenv() {
        eprintln!("auth-server: configuration error: {e}");
        return std::process::ExitCode::from(2);
    }
    shared::telemetry::init_logging_from_env();
    let cli = auth_server::cli::Cli::parse();
    auth_server::cli::run(cli)
}
