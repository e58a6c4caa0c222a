//! The request extractors of every console handler: [`SignedIn`] (a live session, or a 303 to
//! the login page; an admin without TOTP while it is required reaches only enrolment) and
//! [`SignedForm`] (the same plus the `Origin` and CSRF checks of [`super::csrf`], made before
//! the form is parsed, so that no state-changing handler can forget them).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use shared::Secret;

use super::cookies::session_cookie_name;
use super::csrf::{app_state, check_csrf};
use super::errors::ConsoleError;
pub use super::signed::SignedIn;
use crate::service::audit::AuditContext;
use crate::service::operators::Role;
use crate::service::{now_micros, sessions};

/// Forms are small; anything bigger is refused as a bad form.
pub(crate) const FORM_LIMIT: usize = 16 * 1024;

impl SignedIn {
    /// `Err(Forbidden)` unless the operator has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ConsoleError> {
        if roles.contains(&self.operator.role) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "Your role does not allow this page.".into(),
            ))
        }
    }
}

impl FromRequest for SignedIn {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedIn, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(&req, now_micros()).await })
    }
}

/// A form POST of a signed-in operator whose CSRF token and `Origin` have been checked: the
/// extractor for every state-changing page handler, so that no handler can forget
/// [`check_csrf`]. The body must be `application/x-www-form-urlencoded` (at most 16 KiB); the
/// token is checked before `T` is parsed, and a body that is not a `T` is a 400 page.
pub struct SignedForm<T> {
    pub signed: SignedIn,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for SignedForm<T> {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedForm<T>, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let signed = signed_in(&req, now_micros()).await?;
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| {
                    v.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                });
            let body = body
                .await
                .map_err(|_| ConsoleError::BadForm("The form could not be read.".into()))?;
            if !is_form || body.len() > FORM_LIMIT {
                return Err(ConsoleError::BadForm("The form could not be read.".into()));
            }
            let token: CsrfField = serde_urlencoded::from_bytes(&body)
                .map_err(|_| ConsoleError::BadForm("The form could not be read.".into()))?;
            check_csrf(&req, &signed, &token.csrf_token)?;
            let form = serde_urlencoded::from_bytes(&body)
                .map_err(|e| ConsoleError::BadForm(format!("The form could not be read: {e}.")))?;
            Ok(SignedForm { signed, form })
        })
    }
}

/// May an admin without TOTP reach `path` while `CONSOLE_REQUIRE_TOTP_FOR_ADMINS` is on? Only
/// their account page, its actions (enrolment) and logout.
fn reachable_before_enrolment(path: &str) -> bool {
    path == "/console/account" || path.starts_with("/console/account/") || path == "/console/logout"
}

/// The session of `req` at `now`: its cookie, looked up and checked.
pub async fn signed_in(req: &HttpRequest, now: i64) -> Result<SignedIn, ConsoleError> {
    let state = app_state(req)?;
    let cookie = req
        .cookie(session_cookie_name(&state.config.issuer))
        .ok_or(ConsoleError::SignInRequired)?;
    let session = sessions::lookup(&state.db, &state.config.console, cookie.value(), now)
        .await?
        .ok_or(ConsoleError::SignInRequired)?;
    if state.config.console.require_totp_for_admins
        && session.operator.role == Role::Admin
        && !session.operator.totp_enabled
        && !reachable_before_enrolment(req.path())
    {
        return Err(ConsoleError::TotpEnrolmentRequired);
    }
    let audit = AuditContext::operator(
        &state.audit_key,
        &session.operator.id,
        &session.operator.email,
        Some(source(req)),
    );
    Ok(SignedIn {
        operator: session.operator,
        csrf_token: session.csrf_token,
        audit,
        session: Secret::new(cookie.value()),
    })
}

/// The request's client address (audit and the per-source login throttle), by the
/// `TRUSTED_PROXIES` rule of [`shared::client_addr`].
pub fn source(req: &HttpRequest) -> String {
    shared::client_addr::client_ip(req).to_string()
}
