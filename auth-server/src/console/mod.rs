//! The operator console, served under `/console` as HTML pages (maud templates, compiled in).
//!
//! This module owns what every page stands on: the [`SignedIn`] extractor (a live session, or
//! a 303 to the login page), [`SignedForm`] (the same plus a checked CSRF token, for every
//! state-changing handler) and [`check_csrf`], the HTML error pages ([`ConsoleError`]; the JSON
//! errors of shared code, such as a 405 with `Allow`, are rewritten as pages too), the page
//! shell ([`layout`]), the security headers of every `/console` response ([`protect`]) and the
//! route table ([`configure`]). `routes/` stays the JSON APIs.
//!
//! Request protection:
//! - every response carries a strict CSP (no inline script or style), `Referrer-Policy:
//!   no-referrer`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
//!   `Cache-Control: no-store`;
//! - every request that is not GET/HEAD must come from the console's own pages, checked for the
//!   whole scope in [`protect`]: an `Origin` equal to the console's origin — the scheme, host
//!   and port of `AUTH_ISSUER`, the address browsers are given (not the request's `Host`, which
//!   a proxy may rewrite) — or, when the browser sends `Origin: null` (it does for every form
//!   POST of a page under `no-referrer`: Fetch, "serializing a request origin") or none,
//!   `Sec-Fetch-Site: same-origin` (Fetch Metadata, set by the browser and not settable by a
//!   page's script). Anything else — another origin, `null` from a cross-site or sandboxed
//!   context, or no evidence at all — is refused;
//! - every form POST also carries `csrf_token`: for a signed-in operator the session's token
//!   ([`check_csrf`]), before sign-in (login, setup link) the value of a pre-session cookie
//!   (double submit, [`check_login_csrf`]).
//!
//! Invariant: no page shows a password, a session id or a hash; a TOTP secret is shown only on
//! its own operator's enrolment page.

pub mod account;
pub mod assets;
pub mod login;
pub mod pages;
pub mod policy;

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup, DOCTYPE};
use shared::routing::Endpoint;

use crate::routes::AppState;
use crate::service::audit::AuditContext;
use crate::service::operators::{OperatorView, Role};
use crate::service::{now_micros, sessions};

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The Referrer-Policy of every console response: no referrer anywhere (the console's own form
/// POSTs then carry `Origin: null` and prove their origin by Fetch Metadata; module notes).
pub const REFERRER_POLICY: &str = "no-referrer";

/// Forms are small; anything bigger is refused as a bad form.
const FORM_LIMIT: usize = 16 * 1024;

/// An operator with a live session, and what a page needs to act for them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub operator: OperatorView,
    /// Put in every form as the hidden field `csrf_token`; checked by [`check_csrf`].
    pub csrf_token: String,
    /// `AuditContext::operator(id, email, Some(source))`: pass it to every service write.
    pub audit: AuditContext,
}

impl SignedIn {
    pub fn is(&self, role: Role) -> bool {
        self.operator.role == role
    }

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

/// Pages an admin without TOTP may reach while `CONSOLE_REQUIRE_TOTP_FOR_ADMINS` is on.
const TOTP_ENROLMENT_PATHS: [&str; 2] = ["/console/account", "/console/logout"];

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
        && !TOTP_ENROLMENT_PATHS.contains(&req.path())
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
    })
}

fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, ConsoleError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ConsoleError::Internal("no application state".into()))
}

/// The request's client address (audit and the per-source login throttle), by the
/// `TRUSTED_PROXIES` rule of [`shared::client_addr`].
pub fn source(req: &HttpRequest) -> String {
    shared::client_addr::client_ip(req).to_string()
}

/// A state-changing request of a signed-in operator: `Origin` must be the console's and
/// `form_token` the session's CSRF token (compared in constant time).
pub fn check_csrf(
    req: &HttpRequest,
    signed: &SignedIn,
    form_token: &str,
) -> Result<(), ConsoleError> {
    check_origin(req)?;
    if shared::secret::ct_eq(form_token.as_bytes(), signed.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "This form has expired or was not sent by the console. Reload the page and try again."
                .into(),
        ))
    }
}

/// A form sent before sign-in (login, setup link): `Origin` must be the console's and
/// `form_token` equal the pre-session cookie set with the form (double submit).
pub fn check_login_csrf(req: &HttpRequest, form_token: &str) -> Result<(), ConsoleError> {
    check_origin(req)?;
    let state = app_state(req)?;
    let cookie = req.cookie(login_csrf_cookie_name(&state.config.issuer));
    match cookie {
        Some(c)
            if !form_token.is_empty()
                && shared::secret::ct_eq(c.value().as_bytes(), form_token.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ConsoleError::Forbidden(
            "This form has expired or was not sent by the console. Reload the page and try again."
                .into(),
        )),
    }
}

/// `Origin` must equal the console's own origin (see the module notes).
pub fn check_origin(req: &HttpRequest) -> Result<(), ConsoleError> {
    let state = app_state(req)?;
    if origin_allowed(req, &state.config.issuer) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "This request did not come from the console's own pages.".into(),
        ))
    }
}

fn origin_allowed(req: &HttpRequest, issuer: &str) -> bool {
    let expected = console_origin(issuer);
    let single = |name: &str| {
        let mut values = req.headers().get_all(name);
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v.to_str().ok()),
            (None, None) => None,
            _ => Some(None),
        }
    };
    let same_origin_fetch = || single("sec-fetch-site") == Some(Some("same-origin"));
    match single("origin") {
        Some(Some(o)) if o.eq_ignore_ascii_case(&expected) => true,
        Some(Some("null")) | None => same_origin_fetch(),
        _ => false,
    }
}

/// `scheme://host[:port]` of the issuer URL, lowercased.
pub fn console_origin(issuer: &str) -> String {
    let lower = issuer.trim().to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").unwrap_or(("http", lower.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = match (scheme, authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host,
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

fn is_https(issuer: &str) -> bool {
    issuer.trim().to_ascii_lowercase().starts_with("https://")
}

/// `__Host-cf_session` over https, `cf_session` over http.
pub fn session_cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) {
        "__Host-cf_session"
    } else {
        "cf_session"
    }
}

/// The pre-session CSRF cookie of the login and setup forms.
pub fn login_csrf_cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) {
        "__Host-cf_login_csrf"
    } else {
        "cf_login_csrf"
    }
}

/// The known-device cookie (`service::devices`): `__Host-cf_device` over https, `cf_device`
/// over http.
pub fn device_cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) {
        "__Host-cf_device"
    } else {
        "cf_device"
    }
}

/// The known-device cookie: a console cookie that outlives the browser session, for as long
/// as the server honours it.
pub fn device_cookie(issuer: &str, value: String) -> Cookie<'static> {
    let mut c = console_cookie(issuer, device_cookie_name(issuer), value);
    c.set_max_age(actix_web::cookie::time::Duration::seconds(
        crate::service::devices::DEVICE_LIFETIME_SECS,
    ));
    c
}

/// A console cookie: `HttpOnly; SameSite=Strict`; over https `Secure; Path=/` (what the
/// `__Host-` prefix demands), over http `Path=/console` without `Secure`. No `Max-Age`: it
/// ends with the browser; the server ends the session itself.
pub fn console_cookie(issuer: &str, name: &'static str, value: String) -> Cookie<'static> {
    let https = is_https(issuer);
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .path(if https { "/" } else { "/console" })
        .finish()
}

/// The session cookie for `session_id`.
pub fn session_cookie(issuer: &str, session_id: &str) -> Cookie<'static> {
    console_cookie(issuer, session_cookie_name(issuer), session_id.to_owned())
}

/// A cookie that removes `name` (same attributes, expired).
pub fn removal_cookie(issuer: &str, name: &'static str) -> Cookie<'static> {
    let mut c = console_cookie(issuer, name, String::new());
    c.make_removal();
    c
}

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
        let body = html! {
            h1 { (title) }
            p #flash .flash.error role="alert" { (message) }
            p { a href="/console" { "Back to the console" } }
        };
        let mut res = page(self.status_code(), layout(None, title, body));
        if let ConsoleError::TooManyAttempts { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// 303 See Other to `location` (after a POST, and to the login page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An HTML page with `status`.
pub fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// The page shell: `<html lang=en>`, a skip link, `<header>` with the `<nav>` (links by role,
/// the logout form), `<main id=main>` holding `body`.
pub fn layout(signed: Option<&SignedIn>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — CaseForge console" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    a class="brand" href="/console" { "CaseForge console" }
                    @if let Some(s) = signed {
                        nav aria-label="Console" {
                            ul {
                                li { a href="/console/applications" { "Applications" } }
                                li { a href="/console/api-keys" { "API keys" } }
                                @if s.is(Role::Admin) {
                                    li { a href="/console/operators" { "Operators" } }
                                }
                                @if s.is(Role::Admin) || s.is(Role::Auditor) {
                                    li { a href="/console/audit" { "Audit" } }
                                }
                                li { a href="/console/account" { "Account" } }
                            }
                        }
                        form class="logout" method="post" action="/console/logout" {
                            input type="hidden" name="csrf_token" value=(s.csrf_token);
                            span class="who" { (s.operator.email) " (" (s.operator.role) ")" }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

/// The security headers of every `/console` response, and the Origin check of every request
/// that is not GET or HEAD (see the module notes).
pub async fn protect(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    let refused = if safe {
        None
    } else {
        check_origin(req.request()).err()
    };
    let mut res = match refused {
        // Handlers' and extractors' errors arrive here as responses (actix renders them in
        // the route); an `Err` could only come from a middleware inside the scope, and there
        // is none.
        None => next.call(req).await?.map_into_boxed_body(),
        Some(err) => req.into_response(err.error_response()),
    };
    if is_json_error(res.response()) {
        res = html_error_page(res);
    }
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, REFERRER_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(res)
}

/// An error answered by shared code in the JSON envelope (a 405 from `Endpoint`, a 413).
fn is_json_error(res: &HttpResponse) -> bool {
    let status = res.status();
    (status.is_client_error() || status.is_server_error())
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

/// The same status and headers (e.g. `Allow`) as an HTML page: people read the console.
fn html_error_page(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
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
    let body = html! {
        h1 { (title) }
        p role="alert" { (message) }
        p { a href="/console" { "Back to the console" } }
    };
    let mut new = page(status, layout(None, title, body));
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

async fn not_found() -> HttpResponse {
    ConsoleError::NotFound.error_response()
}

async fn home(_: SignedIn) -> HttpResponse {
    see_other("/console/applications")
}

/// Forms that do not parse are 400 pages, not the JSON envelope.
fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|err, _req| {
            ConsoleError::BadForm(format!("The form could not be read: {err}.")).into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|_err, _req| {
        ConsoleError::BadForm("The address has a malformed query.".into()).into()
    })
}

/// Every `/console` route, inside one scope wrapped in [`protect`]. Registered once from
/// `startup::routes`; pages add their `Endpoint`s here.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .wrap(from_fn(protect))
            .app_data(form_config())
            .app_data(query_config())
            .service(Endpoint::new("").get(home))
            .service(Endpoint::new("/").get(home))
            .service(Endpoint::new("/static/console.css").get(assets::css))
            .service(Endpoint::new("/static/console.js").get(assets::js))
            .service(
                Endpoint::new("/login")
                    .get(login::login_page)
                    .post(login::login),
            )
            .service(Endpoint::new("/logout").post(login::logout))
            .service(
                Endpoint::new("/setup")
                    .get(login::setup_page)
                    .post(login::setup),
            )
            .service(
                Endpoint::new("/account")
                    .get(account::account_page)
                    .post(account::account),
            )
            .configure(pages::configure)
            .default_service(web::to(not_found)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port_of_the_issuer() {
        assert_eq!(
            console_origin("https://auth.example.com"),
            "https://auth.example.com"
        );
        assert_eq!(
            console_origin("https://Auth.Example.com:443/x"),
            "https://auth.example.com"
        );
        assert_eq!(
            console_origin("http://localhost:8081/"),
            "http://localhost:8081"
        );
        assert_eq!(
            console_origin("http://caseforge.test"),
            "http://caseforge.test"
        );
    }

    #[test]
    fn cookies_over_https_are_host_prefixed_and_secure() {
        let c = session_cookie("https://auth.example.com", "abc");
        let s = c.to_string();
        assert_eq!(c.name(), "__Host-cf_session");
        assert!(s.contains("HttpOnly") && s.contains("Secure"), "{s}");
        assert!(s.contains("SameSite=Strict") && s.contains("Path=/"), "{s}");
        assert!(!s.contains("Path=/console") && !s.contains("Domain"), "{s}");
    }

    #[test]
    fn cookies_over_http_are_scoped_to_the_console_without_secure() {
        let s = session_cookie("http://localhost:8081", "abc").to_string();
        assert!(s.starts_with("cf_session=abc"), "{s}");
        assert!(
            s.contains("HttpOnly") && s.contains("SameSite=Strict"),
            "{s}"
        );
        assert!(s.contains("Path=/console") && !s.contains("Secure"), "{s}");
        let gone = removal_cookie("http://localhost:8081", "cf_session").to_string();
        assert!(
            gone.contains("Max-Age=0") || gone.contains("Expires"),
            "{gone}"
        );
    }

    #[test]
    fn the_layout_has_landmarks_and_no_inline_script() {
        let html = layout(None, "T", html! { p { "x" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<main id=\"main\"") && html.contains("<header>"));
        assert!(html.contains("href=\"#main\""));
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}
