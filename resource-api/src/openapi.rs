//! The OpenAPI 3 document, generated from the handlers' annotations. Each `/v2` operation's
//! `security` names the scope it needs.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{activity, cases, health, me, sars, subjects, watchlist};

#[derive(OpenApi)]
#[openapi(
    info(title = "CaseForge resource API", description = "The /v2 API: cases, SARs, watchlist, subjects, transactions, alerts. Credentials: an access token from the authorization server or an API key (`Authorization: Bearer …` or `X-API-Key`). See CONTRACT.md §4."),
    paths(
        health::healthz, health::readyz, me::me, me::validate_api_key,
        cases::list, cases::get, cases::history, cases::create, cases::patch, cases::assign, cases::close,
        sars::list_sars, sars::get_sar, sars::create_sar, sars::patch_sar, sars::submit_sar,
        watchlist::list_watchlist, watchlist::get_watchlist, watchlist::screen, watchlist::create_watchlist,
        watchlist::patch_watchlist, watchlist::delete_watchlist,
        subjects::list_subjects, subjects::get_subject, subjects::create_subject, subjects::patch_subject,
        activity::transactions, activity::alerts,
    ),
    components(schemas(shared::ErrorBody)),
    modifiers(&Security, &Edge),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// 405 with `Allow` and `HEAD` on every path, and `Cache-Control: no-store` on `/v2` (see
/// `shared::routing::document`).
struct Edge;

impl Modify for Edge {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        shared::routing::document(openapi, Some("/v2"));
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
