//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
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
    ),
    components(schemas(shared::ErrorBody, oauth::TokenResponse, oauth::TokenRequest)),
    modifiers(&SecuritySchemes, &Edge),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// 405 with `Allow` and `HEAD` on every path (see `shared::routing::document`).
struct Edge;

impl Modify for Edge {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        shared::routing::document(openapi, None);
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
