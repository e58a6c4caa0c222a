//! `resource-api`: read the configuration and serve.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: a list request allocates for every column of every row,
/// and glibc's arenas spent a sixth of its time there (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CaseForge /v2 resource API: cases, SARs, watchlist, subjects, transactions and alerts.
///
/// Configured from the environment (and `./.env`): API_BIND, DATABASE_URL, AUTH_ISSUER,
/// API_AUDIENCE, JWKS_URL, DB_POOL_SIZE, METRICS_BIND, CORS_ALLOWED_ORIGINS, RUST_LOG,
/// LOG_FORMAT, CREDENTIAL_POLL_SECS, LAST_USED_FLUSH_SECS, JWKS_REFRESH_SECS (DATABASE_URL also
/// from DATABASE_URL_FILE); see README "Configuration".
#[derive(Debug, Parser)]
#[command(name = "resource-api", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Exit 0 when the server on API_BIND answers GET /readyz with 200, else 1 (for container
    /// health checks: no curl needed).
    Healthcheck,
    /// Print the OpenAPI document as served with the default API_BIND and AUTH_ISSUER, and exit
    /// (what scripts/lint-openapi.sh writes to sdks/openapi/resource-api.json). Reads no
    /// configuration.
    #[command(hide = true)]
    Openapi,
}

fn main() -> ExitCode {
    // `--help` and `--version` answer and exit before anything starts.
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        let doc = resource_api::openapi::document(
            resource_api::openapi::DEFAULT_PUBLIC_URL,
            shared::config::DEFAULT_ISSUER,
        );
        return match serde_json::to_string_pretty(&doc) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("resource-api: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
    if let Some(Command::Healthcheck) = cli.command {
        let ready =
            actix_web::rt::System::new().block_on(shared::outbound::probe_ready(config.bind));
        return match ready {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("resource-api: not ready: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
