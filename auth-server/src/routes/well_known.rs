//! `/.well-known/jwks.json` (RFC 7517) and `/.well-known/oauth-authorization-server` (RFC 8414).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;
use shared::Scope;

use super::AppState;

/// The public keys tokens are signed with, including retired keys whose tokens may still be live.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "RFC 7517 JWK set", content_type = "application/json")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(keys.jwks_json.clone())
}

/// RFC 8414 authorization-server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "RFC 8414 metadata", content_type = "application/json")))]
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let iss = &state.config.issuer;
    let auth_methods = crate::service::applications::AuthMethod::ALL;
    let algs = shared::jose::ALGORITHMS;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "issuer": iss,
            "token_endpoint": format!("{iss}/oauth/token"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{iss}/oauth/revoke"),
            "introspection_endpoint": format!("{iss}/oauth/introspect"),
            "grant_types_supported": ["client_credentials"],
            // RFC 8414 §2 requires this member and a non-empty array. This server has no
            // authorization endpoint and issues nothing through the browser, so it publishes
            // only `none` (OAuth 2.0 Multiple Response Type Encoding Practices §4: the response
            // carries no code and no token) rather than claim `code` or `token`, which it does
            // not support. `grant_types_supported` says what it does support.
            "response_types_supported": ["none"],
            "token_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "revocation_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint_auth_signing_alg_values_supported": algs,
            "dpop_signing_alg_values_supported": algs,
            "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            // A page for people (RFC 8414 §2); it reads `/openapi.json`.
            "service_documentation": format!("{iss}/docs"),
        }))
}
