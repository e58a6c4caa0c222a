//! Signing in and out: `/console/login`, `/console/logout`, and the one-time setup link
//! `/console/setup?token=…` that sets an operator's first password.

use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, Form, Query};
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    check_login_csrf, console_cookie, device_cookie, device_cookie_name, layout,
    login_csrf_cookie_name, page, removal_cookie, see_other, session_cookie, session_cookie_name,
    signed_in, source, ConsoleError, SignedForm,
};
use crate::routes::AppState;
use crate::service::operators::{self, LoginAttempt, LoginError, Password, Role};
use crate::service::{now_micros, sessions};

/// The one answer to unknown email, wrong password and wrong or replayed code.
pub const INVALID_CREDENTIALS: &str = "The email, password or code is not correct.";

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    setup: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
}

/// A form whose only field is its `csrf_token` (checked by [`SignedForm`]).
#[derive(Deserialize)]
pub struct NoFields {}

/// Where an operator lands after signing in.
fn landing(state: &AppState, operator: &operators::OperatorView) -> &'static str {
    if state.config.console.require_totp_for_admins
        && operator.role == Role::Admin
        && !operator.totp_enabled
    {
        "/console/account"
    } else {
        "/console/applications"
    }
}

/// The pre-session CSRF token of this browser: the cookie's value when it has a plausible
/// one, else a fresh one (and the cookie to set).
fn login_csrf(
    req: &HttpRequest,
    state: &AppState,
) -> (String, Option<actix_web::cookie::Cookie<'static>>) {
    let name = login_csrf_cookie_name(&state.config.issuer);
    match req.cookie(name) {
        Some(c) if c.value().len() == 43 => (c.value().to_owned(), None),
        _ => {
            let token = shared::random::random_token();
            let cookie = console_cookie(&state.config.issuer, name, token.clone());
            (token, Some(cookie))
        }
    }
}

fn login_form(csrf: &str, email: &str, message: Option<&str>, notice: Option<&str>) -> Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(n) = notice { p #flash .flash.success role="status" { (n) } }
        @if let Some(m) = message { p class="error-box" role="alert" id="login-error" { (m) } }
        form class="stack" method="post" action="/console/login" {
            input type="hidden" name="csrf_token" value=(csrf);
            label { "Email"
                input type="email" name="email" value=(email) autocomplete="username" required autofocus;
            }
            label { "Password"
                input type="password" name="password" autocomplete="current-password" required;
            }
            label { "Authentication code"
                span class="hint" { "Only if you have set up an authenticator app." }
                input type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code";
            }
            button type="submit" { "Sign in" }
        }
    }
}

fn with_cookie(
    mut res: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(c) = cookie {
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// `GET /console/login`: the form (or the console, when already signed in).
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Query<LoginQuery>,
) -> HttpResponse {
    if let Ok(signed) = signed_in(&req, now_micros()).await {
        return see_other(landing(&state, &signed.operator));
    }
    let (csrf, cookie) = login_csrf(&req, &state);
    let notice = query
        .setup
        .is_some()
        .then_some("Your password is set. Sign in with it.");
    let markup = layout(None, "Sign in", login_form(&csrf, "", None, notice));
    with_cookie(page(StatusCode::OK, markup), cookie)
}

/// `POST /console/login`: the check, then a session. Failures show the form again with one
/// message (401), or "too many attempts" (429) when throttled.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form<LoginForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_login_csrf(&req, &form.csrf_token)?;
    let source = source(&req);
    let device = req.cookie(device_cookie_name(&state.config.issuer));
    let attempt = LoginAttempt {
        email: &form.email,
        password: &form.password,
        totp: Some(form.totp.as_str()),
        source: &source,
        device: device.as_ref().map(|c| c.value()),
    };
    let now = now_micros();
    let outcome = state
        .operators
        .authenticate(&state.db, attempt, now, Instant::now())
        .await;
    let shown_email: String = form.email.trim().chars().take(254).collect();
    let (status, message, retry_after, target) = match outcome {
        Ok(operators::SignedInOperator {
            operator,
            device_cookie: device,
        }) => {
            let ctx = crate::service::audit::AuditContext::operator(
                &state.audit_key,
                &operator.id,
                &operator.email,
                Some(source.clone()),
            );
            let id =
                sessions::create(&state.db, &state.config.console, &ctx, &operator, now).await?;
            tracing::info!("operator {} signed in", operator.id);
            let issuer = &state.config.issuer;
            let mut res = HttpResponse::SeeOther();
            res.insert_header((header::LOCATION, landing(&state, &operator)))
                .cookie(session_cookie(issuer, id.expose()))
                .cookie(removal_cookie(issuer, login_csrf_cookie_name(issuer)));
            if let Some(value) = device {
                res.cookie(device_cookie(issuer, value));
            }
            return Ok(res.finish());
        }
        Err(LoginError::Internal(e)) => return Err(e.into()),
        Err(LoginError::Invalid { operator }) => (
            StatusCode::UNAUTHORIZED,
            INVALID_CREDENTIALS.to_owned(),
            None,
            operator,
        ),
        Err(LoginError::Throttled { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts; retry in {retry_after} s."),
            Some(retry_after),
            None,
        ),
    };
    // One event per source, target and window with a count (`AuditAggregator`), never one row
    // per attempt; the target is the operator the email named, if any: nothing typed is stored.
    state
        .refusals
        .note("session.login", &source, target.as_deref().unwrap_or(""));
    let markup = layout(
        None,
        "Sign in",
        login_form(&form.csrf_token, &shown_email, Some(&message), None),
    );
    let mut res = page(status, markup);
    if let Some(secs) = retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(res)
}

/// `POST /console/logout`: ends the session and forgets the cookie.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: SignedForm<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let signed = posted.signed;
    let issuer = &state.config.issuer;
    if let Some(cookie) = req.cookie(session_cookie_name(issuer)) {
        sessions::end(&state.db, &signed.audit, cookie.value(), now_micros()).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/login"))
        .cookie(removal_cookie(issuer, session_cookie_name(issuer)))
        .finish())
}

#[derive(Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

const SETUP_LINK_INVALID: &str =
    "This setup link is not valid: it may have been used already or have expired. Ask an admin for a new one.";

fn setup_form(csrf: &str, token: &str, message: Option<&str>) -> Markup {
    html! {
        h1 { "Set your password" }
        @if let Some(m) = message { p #error .error-box role="alert" { (m) } }
        form class="stack" method="post" action="/console/setup" {
            input type="hidden" name="csrf_token" value=(csrf);
            input type="hidden" name="token" value=(token);
            label { "New password"
                span class="hint" { "At least 12 characters." }
                input type="password" name="password" autocomplete="new-password" minlength="12" required autofocus;
            }
            label { "Repeat the password"
                input type="password" name="confirm" autocomplete="new-password" minlength="12" required;
            }
            button type="submit" { "Set password" }
        }
    }
}

/// `GET /console/setup?token=…`: the form that sets the first password.
pub async fn setup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Query<SetupQuery>,
) -> Result<HttpResponse, ConsoleError> {
    if !operators::setup_link_valid(&state.db, &query.token, now_micros()).await? {
        return Err(ConsoleError::BadForm(SETUP_LINK_INVALID.into()));
    }
    let (csrf, cookie) = login_csrf(&req, &state);
    let markup = layout(
        None,
        "Set your password",
        setup_form(&csrf, &query.token, None),
    );
    Ok(with_cookie(page(StatusCode::OK, markup), cookie))
}

/// `POST /console/setup`: sets the password once; the link then stops working.
pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form<SetupForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_login_csrf(&req, &form.csrf_token)?;
    let again = |message: &str| {
        page(
            StatusCode::BAD_REQUEST,
            layout(
                None,
                "Set your password",
                setup_form(&form.csrf_token, &form.token, Some(message)),
            ),
        )
    };
    if form.password != form.confirm {
        return Ok(again("The two passwords differ."));
    }
    let password = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(m) => return Ok(again(&format!("The password {m}."))),
    };
    let done = state
        .operators
        .complete_setup(
            &state.db,
            &form.token,
            &password,
            &state.audit_key,
            Some(source(&req)),
            now_micros(),
        )
        .await?;
    match done {
        Some(operator) => {
            tracing::info!(
                "operator {} set their password through a setup link",
                operator.id
            );
            Ok(see_other("/console/login?setup=done"))
        }
        None => Err(ConsoleError::BadForm(SETUP_LINK_INVALID.into())),
    }
}
