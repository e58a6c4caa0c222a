//! `/v2/me` and `/v2/api_keys/validate`: any valid credential.

use actix_web::HttpResponse;
use serde::Serialize;
use shared::{ApiError, Environment, ScopeSet, Tier};
use utoipa::ToSchema;

use crate::auth::{need, Authorized, PrincipalType};

/// `GET /v2/me`: the credential a request was made with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub principal_type: PrincipalType,
    /// The application's `client_id`, or the API key's id.
    pub id: String,
    pub environment: Environment,
    #[schema(value_type = Vec<shared::Scope>)]
    pub scopes: ScopeSet,
    pub tier: Tier,
}

/// `POST /v2/api_keys/validate`: the API key the request was made with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyValidation {
    /// Always `true`: an invalid key is answered 401.
    pub valid: bool,
    pub api_key: ValidatedApiKey,
}

/// An API key as `/v2/api_keys/validate` shows it (the admin API's view, without `owner_id`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidatedApiKey {
    pub id: String,
    pub name: String,
    pub description: String,
    pub environment: Environment,
    #[schema(value_type = Vec<shared::Scope>)]
    pub scopes: ScopeSet,
    pub tier: Tier,
    pub masked_token: String,
    #[schema(required = true)]
    pub expires_at: Option<String>,
    #[schema(required = true)]
    pub last_used_at: Option<String>,
    pub created_at: String,
    #[schema(required = true)]
    pub revoked_at: Option<String>,
}

/// Who is calling: principal type, id, environment, scopes and tier.
#[utoipa::path(get, path = "/v2/me", operation_id = "me_retrieve", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The credential this request was made with", body = Me)))]
pub async fn me(auth: Authorized<need::AnyCredential>) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        principal_type: auth.principal_type(),
        id: auth.id().to_owned(),
        environment: auth.environment(),
        scopes: auth.scopes().clone(),
        tier: auth.tier(),
    })
}

/// Validates the API key the request was made with.
#[utoipa::path(post, path = "/v2/api_keys/validate", operation_id = "api_keys_validate", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The API key this request was made with", body = ApiKeyValidation), (status = 400, description = "`invalid_request`: called with an access token.", body = shared::ErrorBody)))]
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
    Ok(HttpResponse::Ok().json(ApiKeyValidation {
        valid: true,
        api_key: ValidatedApiKey {
            id: key.id.clone(),
            name: key.name.clone(),
            description: key.description.clone(),
            environment: key.environment,
            scopes: key.scopes.clone(),
            tier: key.tier,
            masked_token: key.masked_token.clone(),
            expires_at: key.expires_at.map(shared::time::rfc3339),
            last_used_at: key.last_used().map(shared::time::rfc3339),
            created_at: shared::time::rfc3339(key.created_at),
            revoked_at: key.revoked_at.map(shared::time::rfc3339),
        },
    }))
}
