//! Liveness and readiness.

use actix_web::web::Data;
use actix_web::HttpResponse;
use serde_json::json;
use shared::ApiError;

use super::AppState;
use crate::auth::Authenticator;

/// Process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz_retrieve", tag = "health", responses((status = 200, description = "The process is up", body = shared::openapi::HealthStatus)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready: the database answers and the authorization server's keys are loaded.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz_retrieve", tag = "health", responses((status = 200, description = "Ready", body = shared::openapi::HealthStatus), (status = 503, body = shared::ErrorBody)))]
pub async fn readyz(
    state: Data<AppState>,
    authn: Data<Authenticator>,
) -> Result<HttpResponse, ApiError> {
    if !state.db.ping().await {
        return Err(ApiError::unavailable("The database is not reachable."));
    }
    if !authn.jwks.has_keys() {
        return Err(ApiError::unavailable(
            "The authorization server's keys have not been loaded yet.",
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
