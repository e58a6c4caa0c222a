//! `/v2/me` and `/v2/api_keys/validate`: any valid credential.

use actix_web::HttpResponse;
use serde_json::json;
use shared::ApiError;

use crate::auth::{need, Authorized, PrincipalType};

/// Who is calling: principal type, id, environment, scopes and tier.
#[utoipa::path(get, path = "/v2/me", operation_id = "me_retrieve", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "`{principal_type, id, environment, scopes, tier}`")))]
pub async fn me(auth: Authorized<need::AnyCredential>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "principal_type": auth.principal_type(),
        "id": auth.id(),
        "environment": auth.environment(),
        "scopes": auth.scopes(),
        "tier": auth.tier(),
    }))
}

/// Validates the API key the request was made with.
#[utoipa::path(post, path = "/v2/api_keys/validate", operation_id = "api_keys_validate", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "`{valid: true, api_key: {...}}`"), (status = 400, description = "`invalid_request`: called with an access token.", body = shared::ErrorBody)))]
pub async fn validate_api_key(
    auth: Authorized<need::AnyCredential>,
) -> Result<HttpResponse, ApiError> {
    let key = match (auth.principal_type(), auth.api_key()) {
        (PrincipalType::ApiKey, Some(k)) => k,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "This endpoint validates API keys; the request was made with an access token.",
            ))
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "valid": true,
        "api_key": {
            "id": key.id,
            "name": key.name,
            "description": key.description,
            "environment": key.environment,
            "scopes": key.scopes,
            "tier": key.tier,
            "masked_token": key.masked_token,
            "expires_at": key.expires_at.map(shared::time::rfc3339),
            "last_used_at": key.last_used().map(shared::time::rfc3339),
            "created_at": shared::time::rfc3339(key.created_at),
            "revoked_at": key.revoked_at.map(shared::time::rfc3339),
        }
    })))
}
