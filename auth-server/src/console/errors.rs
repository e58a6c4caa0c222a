//! What a console request can fail with, and how it reads: an HTML page (inside the normal
//! layout with the navigation when the operator is signed in, see [`super::protect`]) with the
//! message in an error box, or a redirect. JSON errors of shared code (a 405 with `Allow`, a
//! 413) are rewritten as the same pages.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use maud::{html, Markup};

use super::layout::{layout, page, see_other};
use super::signed::SignedIn;

/// What a console request can fail with; each renders as an HTML page (or a redirect) that
/// shows no internals.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: 303 to the login page.
    #[error("sign-in required")]
    SignInRequired,
    /// An admin without TOTP while it is required: 303 to the enrolment page.
    #[error("TOTP enrolment required")]
    TotpEnrolmentRequired,
    /// 403: CSRF or Origin check failed, or the role does not allow it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 400: a form that cannot be used (missing field, bad value); the message is shown.
    #[error("bad form: {0}")]
    BadForm(String),
    /// 409: the change conflicts with the current state; the message is shown.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 429 with `Retry-After`.
    #[error("too many attempts, retry in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    /// 503: the database is unreachable or saturated; the message is logged, never shown.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500; the message is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::error::Error> for ConsoleError {
    fn from(e: crate::error::Error) -> Self {
        use crate::error::Error;
        match e {
            Error::Validation { field, message } => {
                ConsoleError::BadForm(format!("{}: {message}", field.replace('_', " ")))
            }
            Error::NotFound(_) => ConsoleError::NotFound,
            Error::Conflict(m) => ConsoleError::Conflict(m),
            Error::Throttled { retry_after } | Error::AdminThrottled { retry_after } => {
                ConsoleError::TooManyAttempts { retry_after }
            }
            Error::Db(e) => e.into(),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<shared::db::DbError> for ConsoleError {
    fn from(e: shared::db::DbError) -> Self {
        if e.is_unavailable() {
            ConsoleError::Unavailable(format!("database: {e}"))
        } else {
            ConsoleError::Internal(format!("database: {e}"))
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignInRequired | ConsoleError::TotpEnrolmentRequired => {
                StatusCode::SEE_OTHER
            }
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadForm(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let (title, message) = match self {
            ConsoleError::SignInRequired => return see_other("/console/login"),
            ConsoleError::TotpEnrolmentRequired => return see_other("/console/account"),
            ConsoleError::Forbidden(m) => ("Forbidden", m.clone()),
            ConsoleError::NotFound => ("Not found", "There is nothing at this address.".into()),
            ConsoleError::BadForm(m) => ("Bad request", m.clone()),
            ConsoleError::Conflict(m) => ("Conflict", m.clone()),
            ConsoleError::TooManyAttempts { retry_after } => (
                "Too many attempts",
                format!("Too many attempts; retry in {retry_after} s."),
            ),
            ConsoleError::Unavailable(m) => {
                tracing::error!("console: {m}");
                (
                    "Try again shortly",
                    "The database is unavailable or busy; retry in a moment.".into(),
                )
            }
            ConsoleError::Internal(m) => {
                tracing::error!("console: {m}");
                (
                    "Something went wrong",
                    "The server could not handle this request; it has been logged.".into(),
                )
            }
        };
        let mut res = error_page(self.status_code(), title, message);
        if let ConsoleError::TooManyAttempts { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// What an error page says, kept in the response's extensions so that [`super::protect`] can
/// render it again inside the navigation of a signed-in operator ([`with_navigation`]): an
/// error must not strand anyone on a page without a way on.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    title: &'static str,
    message: String,
}

fn error_body(title: &str, message: &str) -> Markup {
    html! {
        h1 { (title) }
        p #error .error-box role="alert" { (message) }
        p { a href="/console" { "Back to the console" } }
    }
}

/// An error page without navigation (no session known yet), remembering what it says.
fn error_page(status: StatusCode, title: &'static str, message: String) -> HttpResponse {
    let mut res = page(status, layout(None, title, error_body(title, &message)));
    res.extensions_mut().insert(ErrorPage { title, message });
    res
}

/// The error page `res` carries, if it is one.
pub(crate) fn error_page_of(res: &ServiceResponse<BoxBody>) -> Option<ErrorPage> {
    res.response().extensions().get::<ErrorPage>().cloned()
}

/// The same error page (status and headers kept) inside `signed`'s navigation.
pub(crate) fn with_navigation(
    res: ServiceResponse<BoxBody>,
    signed: &SignedIn,
    error: &ErrorPage,
) -> ServiceResponse<BoxBody> {
    let (req, old) = res.into_parts();
    let markup = layout(
        Some(signed),
        error.title,
        error_body(error.title, &error.message),
    );
    let mut new = page(old.status(), markup);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

/// An error answered by shared code in the JSON envelope (a 405 from `Endpoint`, a 413).
pub(crate) fn is_json_error(res: &HttpResponse) -> bool {
    let status = res.status();
    (status.is_client_error() || status.is_server_error())
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

/// The same status and headers (e.g. `Allow`) as an HTML page: people read the console.
pub(crate) fn html_error_page(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let (req, old) = res.into_parts();
    let (title, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method not allowed",
            "This address does not accept this kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("Too large", "The form is too large."),
        s if s.is_client_error() => ("Bad request", "The request could not be understood."),
        _ => (
            "Something went wrong",
            "The server could not handle this request; it has been logged.",
        ),
    };
    let mut new = error_page(status, title, message.to_owned());
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

pub(crate) async fn not_found() -> HttpResponse {
    ConsoleError::NotFound.error_response()
}
