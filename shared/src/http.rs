//! Edge configuration both services install, so that bad input gets the same envelope
//! everywhere: JSON/query/path extractor errors, and a catch-all that turns any bare error
//! response (404 for an unknown route, 405, an actix-internal 4xx) into the JSON envelope.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::ApiError;

/// The largest request body either service reads (contract §2).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// JSON bodies: 64 KiB limit; syntax errors → 400, wrong content type → 415, too big → 413,
/// type/enum/range errors → 422 naming what serde found.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| json_error(&err).into())
}

fn json_error(err: &JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body exceeds {MAX_BODY_BYTES} bytes."),
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json).",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("The request body is not valid for this operation: {e}."),
        ),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(
            "malformed_json",
            format!("The request body is not well-formed JSON: {e}."),
        ),
        _ => ApiError::bad_request("malformed_body", "The request body could not be read."),
    }
}

/// Query strings: any parse error → 400 `invalid_query`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let description = match &err {
            QueryPayloadError::Deserialize(e) => format!("The query string is invalid: {e}."),
            _ => "The query string is invalid.".to_owned(),
        };
        ApiError::bad_request("invalid_query", description).into()
    })
}

/// Path segments that do not parse → 404: a malformed id names no resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req| {
        ApiError::not_found("No resource exists at this path.").into()
    })
}

/// Default service for unknown routes.
/// Whether `path` is `prefix` or below it (`/v2`, `/v2/cases`; not `/v2x`).
pub fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Middleware of both services: `Cache-Control: no-store` on every response under a prefix
/// that answers credentials or records (the resource API's `/v2`, the auth server's `/admin`):
/// successes, errors raised before a handler (401, 429, 404, 405) and CORS preflights alike.
pub async fn no_store_under_private_prefixes(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let private = PRIVATE_PREFIXES.iter().any(|p| under(req.path(), p));
    let mut res = next.call(req).await?;
    if private {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

/// The path prefixes [`no_store_under_private_prefixes`] covers. Each service serves only its
/// own (the auth server has no `/v2`, the resource API no `/admin`).
pub const PRIVATE_PREFIXES: [&str; 2] = ["/v2", "/admin"];

pub async fn not_found() -> HttpResponse {
    ApiError::not_found("No route matches this path.").error_response()
}

/// Middleware that rewrites every error response that is not already JSON into the envelope,
/// keeping its status and headers (e.g. `Allow`, `WWW-Authenticate`).
pub fn envelope_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
        // JSON is already the envelope; HTML is a page written for people (the console's
        // error pages), which the envelope would make unreadable.
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (req, old) = res.into_parts();
        let (code, description) = describe(status);
        let mut new = ApiError::new(status, code, description).error_response();
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        let res: ServiceResponse<BoxBody> = ServiceResponse::new(req, new);
        Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
    })
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "No route matches this path."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This method is not allowed on this path.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "The request's content type is not supported here.",
        ),
        s if s.is_client_error() => ("bad_request", "The request could not be understood."),
        _ => (
            "internal_error",
            "The server failed to handle this request; it has been logged.",
        ),
    }
}

/// Parses an optional JSON body by hand (for endpoints whose body may be empty): an empty body
/// gives `T::default()`; anything else must be JSON and gets the same errors as
/// [`json_config`].
pub fn parse_optional_json<T>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned + Default,
{
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(json_error(&JsonPayloadError::ContentType));
    }
    serde_json::from_slice(body).map_err(|e| json_error(&JsonPayloadError::Deserialize(e)))
}

/// The edge configuration both services install: body limit and extractor error handlers.
pub fn edge(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(path_config())
        .app_data(query_config())
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES));
}
