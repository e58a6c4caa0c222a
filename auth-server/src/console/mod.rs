//! The operator console, served under `/console` as HTML pages (maud templates, compiled in).
//!
//! This module owns the security headers of every `/console` response ([`protect`]) and the
//! route table ([`configure`]); what every page stands on is in its submodules:
//! [`extractors`] ([`SignedIn`]: a live session, or a 303 to the login page; [`SignedForm`]:
//! the same plus a checked CSRF token, for every state-changing handler), [`csrf`] (the
//! `Origin` and token checks), [`cookies`], [`errors`] (the HTML error pages, [`ConsoleError`];
//! the JSON errors of shared code, such as a 405 with `Allow`, are rewritten as pages too),
//! [`layout`] (the page shell) and [`policy`] (who may do what). `routes/` stays the JSON APIs.
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
pub mod cookies;
pub mod csrf;
pub mod errors;
pub mod extractors;
pub mod layout;
pub mod login;
pub mod pages;
pub mod policy;
pub mod signed;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse, ResponseError};
use shared::routing::Endpoint;

pub use cookies::{
    console_cookie, device_cookie, device_cookie_name, login_csrf_cookie_name, removal_cookie,
    session_cookie, session_cookie_name,
};
pub use csrf::{check_csrf, check_login_csrf, check_origin, console_origin};
pub use errors::ConsoleError;
pub use extractors::{signed_in, source, SignedForm, SignedIn};
pub use layout::{layout, page, see_other};

use crate::service::now_micros;
use errors::{error_page_of, html_error_page, is_json_error, not_found, with_navigation};
use extractors::FORM_LIMIT;

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The Referrer-Policy of every console response: no referrer anywhere (the console's own form
/// POSTs then carry `Origin: null` and prove their origin by Fetch Metadata; module notes).
pub const REFERRER_POLICY: &str = "no-referrer";

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
    // An error page of a signed-in operator keeps the navigation (one session read, on errors
    // only; without a live session the page stays as it is).
    if let Some(error) = error_page_of(&res) {
        if let Ok(signed) = signed_in(res.request(), now_micros()).await {
            res = with_navigation(res, &signed, &error);
        }
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
            .service(Endpoint::new("/account").get(account::account_page))
            .service(Endpoint::new("/account/password").post(account::change_password))
            .service(Endpoint::new("/account/totp/begin").post(account::totp_begin))
            .service(Endpoint::new("/account/totp/confirm").post(account::totp_confirm))
            .service(Endpoint::new("/account/totp/disable").post(account::totp_disable))
            .configure(pages::configure)
            .default_service(web::to(not_found)),
    );
}
