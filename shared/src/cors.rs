//! CORS for browser callers, both services alike: only the exact origins in
//! `CORS_ALLOWED_ORIGINS` (none by default, and then no CORS middleware at all) get CORS
//! headers; credentials (cookies) are never allowed, since every credential here travels in a
//! header. A preflight is answered by the middleware itself, before any authentication, and
//! a request from any other origin is served as usual without CORS headers, so the browser
//! blocks it.

use actix_cors::Cors;
use actix_web::http::header::HeaderName;
use actix_web::http::Method;
use actix_web::middleware::Condition;

/// Request headers a browser may send. `x-requested-with`: Swagger UI sends it with its token
/// request (the resource API's `/docs` "Authorize").
pub const ALLOWED_HEADERS: [&str; 6] = [
    "authorization",
    "x-api-key",
    "content-type",
    "if-match",
    "idempotency-key",
    "x-requested-with",
];

/// Response headers a browser script may read.
pub const EXPOSED_HEADERS: [&str; 9] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit-policy",
    "ratelimit",
    "retry-after",
    "etag",
    "x-request-id",
    "www-authenticate",
];

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 600;

/// The CORS middleware for `origins` (as parsed by
/// [`crate::config::parse_origins`]); a no-op when the list is empty.
pub fn middleware(origins: &[String]) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE)
        .block_on_origin_mismatch(false);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    Condition::new(!origins.is_empty(), cors)
}
