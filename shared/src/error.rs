//! The JSON error envelope both services answer with (contract §2), and its HTTP mapping.

#[cfg(feature = "server")]
use std::fmt;

#[cfg(feature = "server")]
use actix_web::http::header::{self, HeaderName, HeaderValue};
#[cfg(feature = "server")]
use actix_web::http::StatusCode;
#[cfg(feature = "server")]
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"error": "...", "error_description": "...", "details": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `invalid_token`. Clients branch on it, never on the
    /// description. The codes, by status:
    /// - 400 `invalid_request`, `invalid_query`, `malformed_json`, `malformed_body`, `bad_request`,
    ///   and on `/oauth/token` RFC 6749's `unsupported_grant_type`, `invalid_scope`,
    ///   `unauthorized_client`;
    /// - 401 `invalid_token` (`/v2`), `invalid_client` (`/oauth/*`), `unauthorized` (`/admin`);
    /// - 403 `insufficient_scope`; 404 `not_found`; 405 `method_not_allowed`;
    /// - 409 `conflict`: **final**, the record's state forbids the change ("already closed",
    ///   "not a draft"), so retrying the same request cannot succeed;
    /// - 409 `busy`: **transient**, other writes to the record kept overtaking this one; nothing
    ///   was written, retry after `Retry-After` seconds (also `details.retry_after`);
    /// - 412 `precondition_failed`; 413 `payload_too_large`; 415 `unsupported_media_type`;
    /// - 422 `validation_failed` (`details.field`), `idempotency_key_reused`;
    /// - 429 `rate_limited` (`Retry-After`); 500 `internal_error`; 503 `service_unavailable`.
    pub error: String,
    /// A sentence for people.
    pub error_description: String,
    /// Optional machine-readable details, e.g. `{"field": "name"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// (feature `server`) An error on its way to becoming an HTTP response: status, envelope and extra headers
/// (`WWW-Authenticate`, `Retry-After`, …). Each crate maps its own error enum into this in
/// one place.
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Descriptions that quote user input are cut to this many characters.
#[cfg(feature = "server")]
const MAX_DESCRIPTION: usize = 300;

#[cfg(feature = "server")]
impl ApiError {
    pub fn new(status: StatusCode, code: &str, description: impl Into<String>) -> Self {
        let mut description: String = description.into();
        if description.chars().count() > MAX_DESCRIPTION {
            description = description
                .chars()
                .take(MAX_DESCRIPTION)
                .collect::<String>()
                + "…";
        }
        ApiError {
            status,
            body: ErrorBody {
                error: code.to_owned(),
                error_description: description,
                details: None,
            },
            headers: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.body.details = Some(details);
        self
    }

    /// Adds a header; values that are not valid header text are dropped rather than panicking.
    pub fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    pub fn bad_request(code: &str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    /// 422 `validation_failed` naming the field.
    pub fn validation(field: &str, description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            description,
        )
        .with_details(serde_json::json!({ "field": field }))
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", description)
    }

    /// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
    pub fn rate_limited(retry_after_secs: u64, description: impl Into<String>) -> Self {
        let secs = retry_after_secs.max(1);
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", description)
            .with_details(serde_json::json!({ "retry_after": secs }))
            .with_header(header::RETRY_AFTER, secs.to_string())
    }

    /// 500 with a generic text: the cause goes to the log, never to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "The server failed to handle this request; it has been logged.",
        )
    }

    /// 503 when the database cannot be reached.
    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            description,
        )
    }
}

#[cfg(feature = "server")]
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.body.error,
            self.body.error_description
        )
    }
}

#[cfg(feature = "server")]
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.clone()));
        }
        builder.insert_header((header::CACHE_CONTROL, "no-store"));
        builder.json(&self.body)
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn renders_the_envelope_with_headers() {
        let err = ApiError::rate_limited(7, "Slow down.");
        let resp = err.error_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "7");
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = to_bytes(resp.into_body()).await.unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "rate_limited");
        assert_eq!(v["error_description"], "Slow down.");
        assert_eq!(v["details"]["retry_after"], 7);
    }

    #[test]
    fn long_descriptions_are_cut() {
        let err = ApiError::bad_request("x", "y".repeat(5000));
        assert!(err.body().error_description.chars().count() <= MAX_DESCRIPTION + 1);
    }

    #[test]
    fn validation_names_the_field() {
        let err = ApiError::validation("name", "name must not be empty");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.body().details.as_ref().unwrap()["field"], "name");
    }
}
