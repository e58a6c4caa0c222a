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
        admin_throttle(openapi);
    }
}

/// Every admin operation may answer 429 once a source address has sent too many wrong admin
/// tokens (the right token is always accepted).
fn admin_throttle(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let throttled = ResponseBuilder::new()
        .description("Too many wrong admin tokens from this source address (`rate_limited`).")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer).build())
                .description(Some("Seconds until another attempt is counted."))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/admin/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
            &mut item.head,
        ]
        .into_iter()
        .flatten()
        {
            op.responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| throttled.clone().into());
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
