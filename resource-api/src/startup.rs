//! Building the server; the one place routes are registered.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;
use shared::db::Db;
use shared::ApiError;
use utoipa::OpenApi;

use crate::Config;

pub struct Application {
    port: u16,
    server: Server,
}

struct AppState {
    db: Db,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, String> {
        let db = Db::connect(&config.database_url, config.db_pool_size)
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| format!("API_BIND: cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        log::info!(
            "resource-api on port {port} using {}",
            db.target().describe()
        );
        let state = web::Data::new(AppState { db });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(shared::http::json_config())
                .wrap(shared::http::envelope_errors())
                .wrap(actix_web::middleware::Logger::new(
                    r#"%a "%m %U" %s %b %Dms"#,
                ))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/openapi.json", web::get().to(openapi))
                .default_service(web::to(shared::http::not_found))
        })
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Process is up.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The process is up")))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Database reachable.
#[utoipa::path(get, path = "/readyz", responses((status = 200), (status = 503, body = shared::ErrorBody)))]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::unavailable("The database is not reachable."))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "CaseForge resource API"),
    paths(healthz, readyz),
    components(schemas(shared::ErrorBody))
)]
struct ApiDoc;

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
