//! The OpenAPI 3 document, generated from the handlers' annotations, and `/openapi.json`.
//!
//! Each operation's attribute lists the answers only it gives; [`Shared`] adds what a family of
//! operations shares because one extractor stands in front of all of them: the admin token
//! (401/429), client authentication on `/oauth/*` (401/429), the JSON-body errors. `servers` is
//! the issuer, added by [`document`] when the server starts.

use actix_web::web::Data;
use actix_web::HttpResponse;
use shared::openapi::{
    add_header, add_response, error, extend, operations_mut, retry_after, text_header,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, health, oauth, well_known};

#[derive(OpenApi)]
#[openapi(
    info(title = "CaseForge authorization server", description = "OAuth 2.0 client credentials, API keys, key discovery and the admin API. See CONTRACT.md §3."),
    paths(
        health::healthz, health::readyz,
        oauth::token, oauth::introspect, oauth::revoke,
        well_known::jwks, well_known::metadata,
        admin::create_application, admin::list_applications, admin::get_application,
        admin::patch_application, admin::rotate_secret, admin::revoke_tokens, admin::delete_application,
        admin::create_api_key, admin::list_api_keys, admin::get_api_key, admin::revoke_api_key,
        admin::list_audit_events, admin::export_audit_events,
    ),
    components(schemas(shared::ErrorBody, oauth::TokenResponse, oauth::TokenRequest)),
    tags(
        (name = "oauth", description = "OAuth 2.0: the client-credentials grant (RFC 6749 §4.4), introspection (RFC 7662) and revocation (RFC 7009)."),
        (name = "discovery", description = "The signing keys (RFC 7517 JWK set) and the RFC 8414 metadata (no credential)."),
        (name = "admin", description = "Applications, API keys and the audit trail, with `ADMIN_TOKEN`."),
        (name = "health", description = "Liveness and readiness probes (no credential)."),
    ),
    modifiers(&SecuritySchemes, &Shared, &Edge),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer $ADMIN_TOKEN`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "`client_id` and `client_secret`, each form-url-encoded (RFC 6749 §2.3.1). \
                         Or `client_secret_post`: both in the form body.",
                    ))
                    .build(),
            ),
        );
    }
}

/// What every admin operation, and every `/oauth/*` operation, can answer.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let admin_unauthorized = error(
            "`unauthorized`: the admin token is missing or wrong (or `ADMIN_TOKEN` is unset).",
            &[(
                "WWW-Authenticate",
                text_header("`Bearer realm=\"caseforge-admin\"`."),
            )],
        );
        let admin_throttled = error(
            "`rate_limited`: too many wrong admin tokens from this address (the right token is always accepted).",
            &[("Retry-After", retry_after())],
        );
        let invalid_client = error(
            "`invalid_client`: unknown client, wrong secret, disabled or deleted application, or no client authentication.",
            &[(
                "WWW-Authenticate",
                text_header("`Basic realm=\"caseforge\"`, when HTTP Basic was used."),
            )],
        );
        let throttled = error(
            "`rate_limited`: too many failed authentications for this client (a correct secret is still accepted).",
            &[("Retry-After", retry_after())],
        );
        let unavailable = error(
            "`service_unavailable`: the database does not answer right now; retry shortly.",
            &[],
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let admin = path.starts_with("/admin/");
            let oauth = path.starts_with("/oauth/");
            if !admin && !oauth {
                continue;
            }
            for op in operations_mut(item) {
                if admin {
                    add_response(op, 401, &admin_unauthorized);
                    add_response(op, 429, &admin_throttled);
                    if op.request_body.is_some() {
                        extend(
                            op,
                            400,
                            "`malformed_json`: the body is not well-formed JSON.",
                        );
                        extend(
                            op,
                            415,
                            "`unsupported_media_type`: the body is not `application/json`.",
                        );
                        extend(op, 422, "`validation_failed`: a field is missing or invalid (`details.field` names it when known).");
                    }
                    if path.contains('{') {
                        extend(op, 404, "`not_found`: no record with this id.");
                    }
                } else {
                    extend(op, 400, "`invalid_request`: the body is not `application/x-www-form-urlencoded`, or a parameter is missing or repeated.");
                    add_response(op, 401, &invalid_client);
                    add_response(op, 429, &throttled);
                }
                if op.request_body.is_some() {
                    extend(op, 413, "`payload_too_large`: the body exceeds 64 KiB.");
                }
                add_response(op, 503, &unavailable);
                // An attribute's own 401/429 gets the headers too.
                add_header(op, "Retry-After", &retry_after(), |status| status == "429");
                let challenge = if admin {
                    &admin_unauthorized
                } else {
                    &invalid_client
                };
                for (name, header) in &challenge.headers {
                    add_header(op, name, header, |status| status == "401");
                }
            }
        }
    }
}

/// 405 with `Allow` and `HEAD` on every path (see `shared::routing::document`).
struct Edge;

impl Modify for Edge {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        shared::routing::document(openapi);
    }
}

/// The document as served: the annotations and `servers` (the issuer, this server's public URL).
pub fn document(issuer: &str) -> serde_json::Value {
    let mut openapi = ApiDoc::openapi();
    shared::openapi::set_server(
        &mut openapi,
        issuer,
        "This authorization server (the issuer)",
    );
    shared::openapi::finish(&openapi, &[])
}

/// `GET /openapi.json`: the document built at start (see [`document`]).
pub async fn serve(doc: Data<serde_json::Value>) -> HttpResponse {
    shared::openapi::respond(&doc)
}
