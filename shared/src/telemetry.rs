//! Logging both services install the same way: `tracing`, text or one JSON object a line
//! (`LOG_FORMAT`), filtered by `RUST_LOG`, timestamps in RFC 3339 UTC; the `log` macros of
//! dependencies are bridged into it.
//!
//! Every request is served inside a `request` span carrying its request id and trace id, so
//! every line logged while serving it — the access line included — names both. The access
//! line names method, path (never the query string), status, the client's address (by the
//! `TRUSTED_PROXIES` rule of [`crate::client_addr`], which this middleware resolves first for
//! everything after it), size and time: never a header, body, secret or token.

use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::trace::{TraceContext, TRACEPARENT};

/// The request and response header that carries the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Installs the subscriber: `RUST_LOG` filter (`info` when unset or unreadable), `format`
/// lines on stderr. Safe to call twice (tests): the second call changes nothing.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    // The default timer writes RFC 3339 in UTC (`2026-11-23T19:24:31.123456Z`) in both formats.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Reads `LOG_FORMAT` alone, for the logging that starts before the whole configuration is
/// read; a bad value falls back to text here and is reported with the configuration.
pub fn init_logging_from_env() {
    init_logging(LogFormat::from_env().unwrap_or_default());
}

/// The caller's `X-Request-Id` when it is short and plain, a fresh one otherwise.
fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| format!("{:032x}", rand::random::<u128>()), str::to_owned)
}

/// Serves each request inside a `request` span with its request id (taken or made, and
/// echoed in `X-Request-Id`) and its trace id (continued from a valid `traceparent`, a new
/// trace otherwise; current for outbound calls, see [`crate::trace`]), then logs the access
/// line in that span: `"<method> <path> <status>"` with the client address, bytes and
/// milliseconds as fields. The client address is resolved here, before anything else reads it.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let id = request_id_of(&req);
    let trace = req
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse)
        .map_or_else(TraceContext::new_root, |parent| parent.child());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        trace_id = %trace.trace_id(),
    );
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let client = crate::client_addr::client_ip(req.request());
    let served = trace.scope(next.call(req)).instrument(span.clone()).await;
    let mut res = match served {
        Ok(res) => res,
        Err(e) => {
            // Actix renders it further out; it is logged here, in the request's span.
            let status = e.as_response_error().status_code().as_u16();
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            span.in_scope(|| {
                tracing::info!(target: "access", client = %client, ms = format_args!("{ms:.3}"), "{method} {path} {status}");
            });
            return Err(e);
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), v);
    }
    let status = res.status().as_u16();
    let bytes = match res.response().body().size() {
        BodySize::Sized(n) => n.to_string(),
        BodySize::None => "0".to_owned(),
        BodySize::Stream => "-".to_owned(),
    };
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            client = %client,
            bytes = %bytes,
            ms = format_args!("{ms:.3}"),
            "{method} {path} {status}"
        );
    });
    Ok(res)
}
