//! The OpenAPI 3 document, generated from the handlers' annotations, and `/openapi.json`.
//!
//! Each `/v2` operation's attribute names the scope it needs and the answers only it can give;
//! [`V2Shared`] adds what every `/v2` operation shares because one middleware and one set of
//! extractors stand in front of all of them (401, 403, 429 with the `X-RateLimit-*` headers, the
//! JSON-body errors, …). The security schemes and `servers` depend on the configuration and are
//! added by [`document`] when the server starts.

use actix_web::web::Data;
use actix_web::HttpResponse;
use shared::openapi::{
    add_header, add_response, error, extend, integer_header, operations_mut, required_scopes,
    retry_after, text_header,
};
use shared::Scope;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes,
    SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::routes::{activity, cases, health, me, sars, subjects, watchlist, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(title = "CaseForge resource API", description = "The /v2 API: cases, SARs, watchlist, subjects, transactions, alerts, webhook endpoints. Credentials: an access token from the authorization server or an API key (`Authorization: Bearer …` or `X-API-Key`). See CONTRACT.md §4."),
    paths(
        health::healthz, health::readyz, me::me, me::validate_api_key,
        cases::list, cases::get, cases::history, cases::create, cases::patch, cases::assign, cases::close,
        sars::list_sars, sars::get_sar, sars::create_sar, sars::patch_sar, sars::submit_sar,
        watchlist::list_watchlist, watchlist::get_watchlist, watchlist::screen, watchlist::create_watchlist,
        watchlist::patch_watchlist, watchlist::delete_watchlist,
        subjects::list_subjects, subjects::get_subject, subjects::create_subject, subjects::patch_subject,
        activity::transactions, activity::alerts,
        webhooks::create, webhooks::list, webhooks::get, webhooks::patch, webhooks::delete,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::retry,
    ),
    components(schemas(shared::ErrorBody)),
    tags(
        (name = "cases", description = "Investigations: open, change, assign and close cases; each change is in the case's history."),
        (name = "sars", description = "Suspicious activity reports: drafts, edited until submitted."),
        (name = "watchlist", description = "Sanctions and watchlist entries, and screening names against them."),
        (name = "subjects", description = "People and entities under review, with their risk score."),
        (name = "transactions", description = "Transactions (read only)."),
        (name = "alerts", description = "Alerts raised on transactions (read only)."),
        (name = "webhooks", description = "Webhook endpoints of the credential's environment, their signing secrets and delivery log."),
        (name = "me", description = "The credential a request is made with."),
        (name = "health", description = "Liveness and readiness probes (no credential)."),
    ),
    modifiers(&V2Shared, &Edge),
)]
pub struct ApiDoc;

/// The security schemes: an access token from the authorization server's client-credentials
/// grant (as OAuth 2.0 and as a plain JWT bearer), or an API key in `X-API-Key` (or as a bearer).
pub const OAUTH2: &str = "oauth2";
pub const BEARER: &str = "bearer";
pub const API_KEY: &str = "api_key";
/// A DPoP-bound access token (RFC 9449 §7.1): `Authorization: DPoP <token>` plus a `DPoP` proof
/// of the request. utoipa's `HttpAuthScheme` has no `DPoP` (an IANA-registered scheme name), so
/// the scheme is written into the finished JSON by [`add_dpop_scheme`].
pub const DPOP: &str = "dpop";

/// `servers` of the committed document (`resource-api openapi`): the default `API_BIND`.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The retryable 409 of every write to an existing record (`Error::RecordBusy`).
const BUSY: &str = "`busy`: other writes to this record kept overtaking this one; nothing was written. Retry after `Retry-After` seconds (`details.retry_after`). Unlike `conflict`, which is final (the record's state forbids the change), the same request may succeed.";

/// What every `/v2` operation can answer, whatever it does.
struct V2Shared;

impl Modify for V2Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let www_authenticate = |what: &str| {
            text_header(&format!(
                "`Bearer realm=\"caseforge\"`{what} (RFC 6750 §3)."
            ))
        };
        let rate_limit = [
            ("X-RateLimit-Limit", integer_header("Requests the window that binds now holds: the tier's burst bucket, or its hourly quota when less is left of the hour (absent for the `unlimited` tier).")),
            ("X-RateLimit-Remaining", integer_header("Requests left in that window: how many may be sent right now (absent for the `unlimited` tier).")),
            ("X-RateLimit-Reset", integer_header("Seconds until that window is whole again (absent for the `unlimited` tier).")),
            ("RateLimit-Policy", text_header("The tier's windows (draft-ietf-httpapi-ratelimit-headers): `\"burst\";q=<burst>;w=<seconds to refill it at the per-minute rate>, \"hour\";q=<hourly quota>;w=3600`, e.g. `\"burst\";q=50;w=10, \"hour\";q=10000;w=3600` (absent for the `unlimited` tier).")),
            ("RateLimit", text_header("What is left of each window and the seconds until it is whole: `\"burst\";r=48;t=1, \"hour\";r=9950;t=3011` (absent for the `unlimited` tier).")),
        ];
        let unauthenticated = error(
            "`invalid_token`: the credential is missing, malformed, expired, revoked or not issued for this API. `WWW-Authenticate` has no `error=` when no credential was sent.",
            &[("WWW-Authenticate", www_authenticate(", with `error=\"invalid_token\"` when a credential was sent"))],
        );
        let forbidden = error(
            "`insufficient_scope`: the credential is valid but lacks the scope this operation needs (`details.required_scope`).",
            &[("WWW-Authenticate", www_authenticate(", error=\"insufficient_scope\", scope=\"<needed>\""))],
        );
        let mut limited_headers = vec![("Retry-After", retry_after())];
        limited_headers.extend(rate_limit.iter().cloned());
        let limited = error(
            "`rate_limited`: the credential's tier allows no more requests right now (with the `X-RateLimit-*` headers), or this address sent too many bad credentials.",
            &limited_headers,
        );
        let unavailable = error(
            "`service_unavailable`: credentials cannot be verified or the database does not answer right now; retry shortly.",
            &[],
        );
        let busy_header = [("Retry-After", retry_after())];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v2/") {
                continue;
            }
            // Every write to an existing record goes through `service::records`, whose
            // optimistic retries may run out: 409 `busy`, retryable, with `Retry-After`.
            if path.contains('{') {
                for op in [&mut item.post, &mut item.patch, &mut item.delete]
                    .into_iter()
                    .flatten()
                {
                    extend(op, 409, BUSY);
                    add_header(op, "Retry-After", &busy_header[0].1, |s| s == "409");
                }
            }
            for op in operations_mut(item) {
                expand_security(op);
                constrain_parameters(op);
                extend(op, 400, "`invalid_request`: two different credentials, or a credential header sent twice.");
                add_response(op, 401, &unauthenticated);
                if !required_scopes(op).is_empty() {
                    add_response(op, 403, &forbidden);
                }
                add_response(op, 429, &limited);
                add_response(op, 503, &unavailable);
                if op.request_body.is_some() {
                    json_body_errors(op);
                }
                let queried = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                if queried {
                    extend(
                        op,
                        400,
                        "`invalid_query`: a query parameter does not parse.",
                    );
                }
                if path.contains('{') {
                    extend(
                        op,
                        404,
                        "`not_found`: no record with this id in the credential's environment.",
                    );
                }
                for (name, header) in &rate_limit {
                    add_header(op, name, header, |status| {
                        status != "401" && status != "503"
                    });
                }
                // An attribute's own 401/403/429 gets the headers too.
                for (status, shared) in [
                    ("401", &unauthenticated),
                    ("403", &forbidden),
                    ("429", &limited),
                ] {
                    for (name, header) in &shared.headers {
                        add_header(op, name, header, |s| s == status);
                    }
                }
            }
        }
    }
}

/// The shapes the edge parsers accept, for the parameters every list and every conditional or
/// idempotent write shares (`domain::PageRequest`, `conditional::IfMatch`,
/// `service::idempotency::IdempotencyKey`): a client sees the rule, a fuzzer reaches the logic.
fn constrain_parameters(op: &mut Operation) {
    for p in op.parameters.iter_mut().flatten() {
        let schema = match (p.name.as_str(), &p.parameter_in) {
            // No `default` on either: a generated client would send it on every request, and
            // `page` beside `cursor` is 400 while `page_size` beside it replaces the size the
            // cursor carries. The defaults (page 1, 20 rows) are said in the descriptions.
            ("page", ParameterIn::Query) => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(1_000_000)),
            ("page_size", ParameterIn::Query) => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(100)),
            ("If-Match", ParameterIn::Header) => {
                ObjectBuilder::new().schema_type(Type::String).pattern(Some(
                    r#"^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$"#,
                ))
            }
            ("Idempotency-Key", ParameterIn::Header) => ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
            _ => continue,
        };
        p.schema = Some(schema.build().into());
    }
}

/// The answers of the JSON body extractor (`shared::http::json_config`).
fn json_body_errors(op: &mut Operation) {
    extend(
        op,
        400,
        "`malformed_json`: the body is not well-formed JSON.",
    );
    extend(op, 413, "`payload_too_large`: the body exceeds 64 KiB.");
    extend(
        op,
        415,
        "`unsupported_media_type`: the body is not `application/json`.",
    );
    extend(op, 422, "`validation_failed`: a field has the wrong type, an unknown enum value or an out-of-range value (`details.field` names it when known).");
}

/// The attribute names the scope under one scheme; any of the three ways to present a
/// credential carries it.
fn expand_security(op: &mut Operation) {
    if op.security.is_none() {
        return;
    }
    let scopes = required_scopes(op);
    op.security = Some(
        [OAUTH2, BEARER, DPOP, API_KEY]
            .into_iter()
            .map(|scheme| SecurityRequirement::new(scheme, scopes.clone()))
            .collect(),
    );
}

/// 405 with `Allow` and `HEAD` on every path, and `Cache-Control: no-store` on `/v2` (see
/// `shared::routing::document`).
struct Edge;

impl Modify for Edge {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        shared::routing::document(openapi);
    }
}

/// The document as served: the annotations, the security schemes (the token URL is the
/// issuer's) and `servers` (this API's public URL).
pub fn document(public_url: &str, issuer: &str) -> serde_json::Value {
    let mut openapi = ApiDoc::openapi();
    let scopes: Scopes = Scope::ALL
        .iter()
        .map(|s| (s.as_str(), s.description()))
        .collect();
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        OAUTH2,
        SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::ClientCredentials(ClientCredentials::new(
                format!("{}/oauth/token", issuer.trim_end_matches('/')),
                scopes,
            ))],
            "An access token from the authorization server's client-credentials grant (RFC 6749 §4.4), sent as `Authorization: Bearer`.",
        )),
    );
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "`Authorization: Bearer` with an access token (an RFC 9068 JWT) or an API key.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An API key (`cf_live_…` or `cf_sand_…`) created by an operator.",
        ))),
    );
    shared::openapi::set_server(&mut openapi, public_url, "This resource API");
    let mut doc = shared::openapi::finish(
        &openapi,
        &[
            ("Idempotency-Key", "1–255 visible ASCII characters, kept 24 hours per credential. A create or a transition (`/assign`, `/close`, `/submit`, `DELETE`) retried with the same key and the same request answers the first answer again (same status, body and `ETag`, with `Idempotent-Replayed: true`) instead of writing twice; the same key with another request is 422 `idempotency_key_reused`."),
            ("If-Match", "`*` or entity tags from `ETag` (RFC 9110 §13.1.1): the write is made only if the record still has one of them, else 412 `precondition_failed` and nothing is written."),
        ],
    );
    add_dpop_scheme(&mut doc);
    doc
}

/// `components.securitySchemes.dpop`: `type: http`, `scheme: DPoP` (the OpenAPI shape of an
/// HTTP authentication scheme, here the one RFC 9449 registered), which the operations'
/// security requirements already name (see [`expand_security`]).
fn add_dpop_scheme(doc: &mut serde_json::Value) {
    let scheme = serde_json::json!({
        "type": "http",
        "scheme": "DPoP",
        "bearerFormat": "JWT",
        "description": "A DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>` and, on every request, a `DPoP` header with a new proof signed by the key the token is bound to (`htm`, `htu` under this API's public URL, `iat`, `jti`, `ath`). Tokens are DPoP-bound when the token request carried a proof (`token_type: DPoP`); an application registered with `dpop_bound_access_tokens` gets only those. Refusals are 401 `invalid_dpop_proof` / `invalid_token` / `use_dpop_nonce` (with `DPoP-Nonce`) and `WWW-Authenticate: DPoP`.",
    });
    if let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(|s| s.as_object_mut())
    {
        schemes.insert(DPOP.to_owned(), scheme);
    }
}

/// `GET /openapi.json`: the document built at start (see [`document`]).
pub async fn serve(doc: Data<serde_json::Value>) -> HttpResponse {
    shared::openapi::respond(&doc)
}
