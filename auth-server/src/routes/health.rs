//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde_json::json;
use shared::ApiError;

use super::AppState;

/// Process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz_retrieve", tag = "health", responses((status = 200, description = "The process is up", body = shared::openapi::HealthStatus)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Database reachable.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz_retrieve", tag = "health", responses(
    (status = 200, description = "The database answers", body = shared::openapi::HealthStatus),
    (status = 503, description = "The database does not answer", body = shared::ErrorBody)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::unavailable("The database is not reachable."))
    }
}
