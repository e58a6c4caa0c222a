//! The resource API's error enum, mapped to the shared envelope in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared::db::DbError;
use shared::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation_failed on {field}: {message}")]
    Validation {
        field: &'static str,
        message: String,
    },
    #[error("invalid query: {0}")]
    Query(String),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
            Error::NotFound(what) => ApiError::not_found(format!("No {what} with this id exists.")),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m.clone()),
            Error::Db(e) => {
                log::error!("database error: {e}");
                if matches!(e, DbError::Pool(_)) {
                    ApiError::unavailable("The database is unavailable; retry shortly.")
                } else {
                    ApiError::internal()
                }
            }
            Error::Internal(m) => {
                log::error!("internal error: {m}");
                ApiError::internal()
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
