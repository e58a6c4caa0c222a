//! TEMPORARY: replaced by h-accounts' console module at the merge (same signatures).

pub mod pages;
pub mod policy;

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup, DOCTYPE};

use crate::service::audit::AuditContext;
use crate::service::operators::OperatorView;

pub struct SignedIn {
    pub operator: OperatorView,
    pub csrf_token: String,
    pub audit: AuditContext,
}

impl FromRequest for SignedIn {
    type Error = ConsoleError;
    type Future = Ready<Result<SignedIn, ConsoleError>>;
    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Err(ConsoleError::Forbidden))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ResponseError for ConsoleError {
    fn error_response(&self) -> HttpResponse {
        HttpResponse::Forbidden().finish()
    }
}

pub fn check_csrf(
    _: &HttpRequest,
    signed: &SignedIn,
    form_token: &str,
) -> Result<(), ConsoleError> {
    if form_token == signed.csrf_token {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden)
    }
}

pub fn layout(_: Option<&SignedIn>, title: &str, body: Markup) -> Markup {
    html! { (DOCTYPE) html { head { title { (title) } } body { main { (body) } } } }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    pages::configure(cfg);
}
