//! `auth-server`: parse the command line, then serve or run an ops command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    auth_server::telemetry::init_logging();
    let cli = auth_server::cli::Cli::parse();
    auth_server::cli::run(cli)
}
