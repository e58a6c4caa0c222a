//! The resource API's error enum, mapped to the shared envelope in one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use shared::db::DbError;
use shared::ApiError;

/// The `Retry-After` of a screen refused for want of a scoring turn, in seconds.
pub const SCORING_RETRY_AFTER: u64 = 1;

/// The `Retry-After` of a 409 `busy` (a record other writes kept overtaking), in seconds.
pub const BUSY_RETRY_AFTER: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation_failed on {field}: {message}")]
    Validation {
        field: &'static str,
        message: String,
    },
    #[error("invalid query: {0}")]
    Query(String),
    /// A query parameter with a value outside its closed set; the answer lists the set.
    #[error("invalid query: unknown value of {parameter}")]
    QueryValue {
        parameter: &'static str,
        allowed: &'static [&'static str],
    },
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The record's state forbids the change for good ("already closed", "not a draft"):
    /// 409 `conflict`; retrying the same request cannot succeed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Other writes to the same record kept overtaking this one (its optimistic retries ran
    /// out): 409 `busy` with `Retry-After`; the same request may succeed when retried.
    #[error("busy: {0}")]
    RecordBusy(&'static str),
    /// `If-Match` names a version the record no longer has (RFC 9110 §13.1.1).
    #[error("precondition failed")]
    PreconditionFailed,
    /// An `Idempotency-Key` already used for a different request.
    #[error("idempotency key reused for a different request")]
    IdempotencyKeyReused,
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("internal: {0}")]
    Internal(String),
    /// A capability this deployment has not configured (e.g. webhooks without their key).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Every list slot stayed taken for the whole wait (`pagination::Lists::enter`).
    #[error("too many lists at once")]
    Busy,
    /// Every scoring turn stayed taken for the whole wait (`service::watchlist::Scoring`).
    #[error("too many screens at once")]
    ScoringBusy,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// So that a transaction can return [`Error`] and roll back on a domain error too.
impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::Db(DbError::Query(e))
    }
}

/// Lets a [`shared::db::Db::transaction`] end with [`Error`] and still retry a lock or
/// serialization failure.
impl shared::db::TransactionError for Error {
    fn as_query_error(&self) -> Option<&diesel::result::Error> {
        match self {
            Error::Db(DbError::Query(e)) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Error::Validation {
            field,
            message: message.into(),
        }
    }

    fn to_api_error(&self) -> ApiError {
        match self {
            Error::Validation { field, message } => ApiError::validation(field, message.clone()),
            Error::Query(m) => ApiError::bad_request("invalid_query", m.clone()),
            Error::QueryValue { parameter, allowed } => ApiError::bad_request(
                "invalid_query",
                format!("`{parameter}` must be one of: {}.", allowed.join(", ")),
            )
            .with_details(serde_json::json!({"parameter": parameter, "allowed": allowed})),
            Error::NotFound(what) => ApiError::not_found(format!("No {what} with this id exists.")),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m.clone()),
            Error::RecordBusy(m) => {
                let secs = BUSY_RETRY_AFTER;
                ApiError::new(StatusCode::CONFLICT, "busy", *m)
                    .with_details(serde_json::json!({ "retry_after": secs }))
                    .with_header(header::RETRY_AFTER, secs.to_string())
            }
            Error::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The record has changed since the version named in `If-Match`; fetch it again.",
            ),
            Error::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request.",
            )
            .with_details(serde_json::json!({ "header": "Idempotency-Key" })),
            Error::Db(e) => {
                tracing::error!("database error: {e}");
                if e.is_unavailable() {
                    ApiError::unavailable("The database is unavailable; retry shortly.")
                } else {
                    ApiError::internal()
                }
            }
            Error::Internal(m) => {
                tracing::error!("internal error: {m}");
                ApiError::internal()
            }
            Error::Unavailable(m) => ApiError::unavailable(m.clone()),
            Error::Busy => ApiError::unavailable("Too many list requests at once; retry shortly."),
            Error::ScoringBusy => {
                let secs = SCORING_RETRY_AFTER;
                ApiError::unavailable("Too many names are being screened at once; retry shortly.")
                    .with_details(serde_json::json!({ "retry_after": secs }))
                    .with_header(header::RETRY_AFTER, secs.to_string())
            }
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.to_api_error().status()
    }

    fn error_response(&self) -> HttpResponse {
        self.to_api_error().error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(e: &Error) -> (StatusCode, Option<String>, serde_json::Value) {
        let resp = e.error_response();
        let retry = resp
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = serde_json::to_value(e.to_api_error().body()).unwrap();
        (resp.status(), retry, body)
    }

    /// A client retries `busy` and gives up on `conflict`: the two must stay apart.
    #[test]
    fn busy_is_a_retryable_409_apart_from_the_final_conflict() {
        let (status, retry, body) = rendered(&Error::RecordBusy("retry."));
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"], "busy");
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(body["details"]["retry_after"], BUSY_RETRY_AFTER);

        let (status, retry, body) =
            rendered(&Error::Conflict("The case is already closed.".into()));
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"], "conflict");
        assert_eq!(retry, None);
    }
}
