//! `resource-api`: read the configuration and serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    // `./.env` only: never a parent directory's.
    if let Err(e) = shared::config::load_dotenv() {
        eprintln!("resource-api: configuration error: {e}");
        return ExitCode::from(2);
    }
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .try_init();
    let config = match resource_api::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("resource-api: configuration error: {e}");
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
