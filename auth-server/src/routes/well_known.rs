//! `/.well-known/jwks.json` (RFC 7517) and `/.well-known/oauth-authorization-server` (RFC 8414).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use shared::Scope;
use utoipa::ToSchema;

use super::AppState;

/// An RFC 7517 JWK set. Documentation of what `service::signing` writes (its `jwks_json`); the
/// conformance run checks the served set against it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JwkSet {
    /// The current key and retired keys whose tokens may still be live.
    keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Jwk {
    #[schema(value_type = String, pattern = "^OKP$")]
    kty: String,
    #[schema(value_type = String, pattern = "^Ed25519$")]
    crv: String,
    /// The public key, base64url.
    x: String,
    /// The key id a token's header names.
    kid: String,
    #[schema(rename = "use", value_type = String, pattern = "^sig$")]
    use_: String,
    #[schema(value_type = String, pattern = "^EdDSA$")]
    alg: String,
}

/// RFC 8414 authorization-server metadata.
#[derive(Serialize, ToSchema)]
pub struct Metadata {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    response_types_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// What a `private_key_jwt` assertion may be signed with (RFC 8414 §2).
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 9449 §5.1.
    dpop_signing_alg_values_supported: Vec<&'static str>,
    #[schema(value_type = Vec<Scope>)]
    scopes_supported: Vec<&'static str>,
    /// A page for people (RFC 8414 §2); it reads `/openapi.json`.
    service_documentation: String,
}

/// The public keys tokens are signed with, including retired keys whose tokens may still be live.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "jwks_retrieve", tag = "discovery",
    responses((status = 200, description = "RFC 7517 JWK set", body = JwkSet, content_type = "application/json")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(keys.jwks_json.clone())
}

/// RFC 8414 authorization-server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", operation_id = "metadata_retrieve", tag = "discovery",
    responses((status = 200, description = "RFC 8414 metadata", body = Metadata, content_type = "application/json")))]
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let iss = &state.config.issuer;
    let auth_methods = crate::service::applications::AuthMethod::ALL.to_vec();
    let algs = shared::jose::ALGORITHMS.to_vec();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(Metadata {
            issuer: iss.clone(),
            token_endpoint: format!("{iss}/oauth/token"),
            jwks_uri: format!("{iss}/.well-known/jwks.json"),
            revocation_endpoint: format!("{iss}/oauth/revoke"),
            introspection_endpoint: format!("{iss}/oauth/introspect"),
            grant_types_supported: vec!["client_credentials"],
            // RFC 8414 §2 requires this member and a non-empty array. This server has no
            // authorization endpoint and issues nothing through the browser, so it publishes
            // only `none` (OAuth 2.0 Multiple Response Type Encoding Practices §4: the response
            // carries no code and no token) rather than claim `code` or `token`, which it does
            // not support. `grant_types_supported` says what it does support.
            response_types_supported: vec!["none"],
            token_endpoint_auth_methods_supported: auth_methods.clone(),
            revocation_endpoint_auth_methods_supported: auth_methods.clone(),
            introspection_endpoint_auth_methods_supported: auth_methods,
            token_endpoint_auth_signing_alg_values_supported: algs.clone(),
            revocation_endpoint_auth_signing_alg_values_supported: algs.clone(),
            introspection_endpoint_auth_signing_alg_values_supported: algs.clone(),
            dpop_signing_alg_values_supported: algs,
            scopes_supported: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            service_documentation: format!("{iss}/docs"),
        })
}
