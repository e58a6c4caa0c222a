//! `resource-api`: read the configuration and serve.

use std::process::ExitCode;

use clap::Parser;

/// CaseForge /v2 resource API: cases, SARs, watchlist, subjects, transactions and alerts.
///
/// Configured from the environment (and `./.env`): API_BIND, DATABASE_URL, AUTH_ISSUER,
/// API_AUDIENCE, JWKS_URL, DB_POOL_SIZE, METRICS_BIND, CORS_ALLOWED_ORIGINS, RUST_LOG,
/// LOG_FORMAT, CREDENTIAL_POLL_SECS, LAST_USED_FLUSH_SECS, JWKS_REFRESH_SECS (DATABASE_URL also
/// from DATABASE_URL_FILE); see README "Configuration".
#[derive(Debug, Parser)]
#[command(name = "resource-api", version)]
struct Cli {}

fn main() -> ExitCode {
    // `--help` and `--version` answer and exit before anything starts.
    Cli::parse();
    // `./.env` only: never a parent directory's.
    if let Err(e) = shared::config::load_dotenv() {
        eprintln!("resource-api: configuration error: {e}");
        return ExitCode::from(2);
    }
    shared::telemetry::init_logging_from_env();
    let config = match resource_api::Config::from_env() {
        Ok(c) => c,
        Err(errors) => {
            errors.report("resource-api");
            return ExitCode::from(2);
        }
    };
    let result = actix_web::rt::System::new().block_on(async move {
        let app = resource_api::Application::build(config).await?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resource-api: {e}");
            ExitCode::FAILURE
        }
    }
}
