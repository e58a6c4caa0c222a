//! Logging both services install the same way: env_logger, and one access-log line per request
//! carrying a request id. The access
//! log names method, path (never the query string), status, size and time: never a header,
//! body, secret or token.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Logger, Next};

/// The response header that carries the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// `RUST_LOG` filter, `info` by default. Safe to call twice (tests).
pub fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .try_init();
}

/// The access log: `<request id> <peer> "<method> <path>" <status> <bytes> <ms>`.
pub fn access_log() -> Logger {
    Logger::new(r#"%{x-request-id}o %a "%{method}xi %U" %s %b %Dms"#)
        .custom_request_replace("method", |req| req.method().to_string())
}

/// Gives every request an id: the caller's `X-Request-Id` when it is short and plain, a fresh
/// one otherwise. It is echoed in the response and printed in the access log.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let incoming = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    let id = incoming.unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), v);
    }
    Ok(res)
}
