//! `/console/account`: the signed-in operator's own account — one route per action:
//! `POST /console/account/password` (change it; every other session ends),
//! `…/totp/begin` (needs the current password), `…/totp/confirm` (one valid code turns it on)
//! and `…/totp/disable` (needs the current password). A refused action shows the account page
//! again with the reason in an error box (400); a done one answers 303 to it.

use actix_web::http::StatusCode;
use actix_web::web::{self, Query};
use actix_web::HttpResponse;
use maud::{html, Markup};
use serde::Deserialize;

use super::{layout, page, see_other, session_cookie, ConsoleError, SignedForm, SignedIn};
use crate::routes::AppState;
use crate::service::operators::{Password, TotpEnrolment};
use crate::service::{now_micros, sessions};

#[derive(Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `POST /console/account/password`.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /console/account/totp/begin` and `…/totp/disable`.
#[derive(Deserialize)]
pub struct CurrentPasswordForm {
    #[serde(default)]
    current_password: String,
}

/// `POST /console/account/totp/confirm`.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

fn notice_for(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "password" => Some("Your password has been changed; every other session has ended."),
        "totp-on" => Some("Two-step sign-in is on: sign-ins now ask for a code."),
        "totp-off" => Some("Two-step sign-in is off."),
        _ => None,
    }
}

fn account_body(
    signed: &SignedIn,
    pending: Option<&TotpEnrolment>,
    notice: Option<&str>,
    error: Option<&str>,
    required: bool,
) -> Markup {
    let csrf = &signed.csrf_token;
    html! {
        h1 { "Your account" }
        @if let Some(n) = notice { p #flash .flash.success role="status" { (n) } }
        @if let Some(e) = error { p #error .error-box role="alert" { (e) } }
        @if required {
            p role="alert" { "Admins must use two-step sign-in: set up an authenticator app to continue." }
        }
        dl {
            dt { "Email" } dd { (signed.operator.email) }
            dt { "Role" } dd { (signed.operator.role) }
        }
        h2 { "Change password" }
        form class="stack" method="post" action="/console/account/password" {
            input type="hidden" name="csrf_token" value=(csrf);
            label { "Current password"
                input type="password" name="current_password" autocomplete="current-password" required;
            }
            label { "New password"
                span class="hint" { "At least 12 characters. Every other session ends." }
                input type="password" name="new_password" autocomplete="new-password" minlength="12" required;
            }
            label { "Repeat the new password"
                input type="password" name="confirm_password" autocomplete="new-password" minlength="12" required;
            }
            button type="submit" { "Change password" }
        }
        h2 { "Two-step sign-in (TOTP)" }
        @if signed.operator.totp_enabled {
            p { "On: every sign-in asks for a code from your authenticator app." }
            form class="stack" method="post" action="/console/account/totp/disable" data-confirm="Turn two-step sign-in off?" {
                input type="hidden" name="csrf_token" value=(csrf);
                label { "Current password"
                    input type="password" name="current_password" autocomplete="current-password" required;
                }
                button type="submit" class="danger" { "Turn off" }
            }
        } @else if let Some(p) = pending {
            p { "Add this account to your authenticator app, then enter the code it shows." }
            p { "Setup link (open it on your phone, or turn it into a QR code):" }
            p class="secret" id="totp-uri" { a href=(p.uri.expose()) { (p.uri.expose()) } }
            p { "Or type this key:" }
            p class="secret" id="totp-key" { (p.base32.expose()) }
            button type="button" class="secondary" data-copy="#totp-key" hidden { "Copy the key" }
            form class="stack" method="post" action="/console/account/totp/confirm" {
                input type="hidden" name="csrf_token" value=(csrf);
                label { "Code"
                    input type="text" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required;
                }
                button type="submit" { "Confirm" }
            }
        } @else {
            p { "Off. Sign-ins ask only for your password." }
            form class="stack" method="post" action="/console/account/totp/begin" {
                input type="hidden" name="csrf_token" value=(csrf);
                label { "Current password"
                    input type="password" name="current_password" autocomplete="current-password" required;
                }
                button type="submit" { "Set up an authenticator app" }
            }
        }
    }
}

fn totp_required(state: &AppState, signed: &SignedIn) -> bool {
    state.config.console.require_totp_for_admins
        && signed.is(crate::service::operators::Role::Admin)
        && !signed.operator.totp_enabled
}

async fn render(
    state: &AppState,
    signed: &SignedIn,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let pending = state
        .operators
        .totp_pending(&state.db, &signed.operator.id)
        .await?;
    let body = account_body(
        signed,
        pending.as_ref(),
        notice,
        error,
        totp_required(state, signed),
    );
    Ok(page(status, layout(Some(signed), "Your account", body)))
}

/// `GET /console/account`.
pub async fn account_page(
    state: web::Data<AppState>,
    signed: SignedIn,
    query: Query<AccountQuery>,
) -> Result<HttpResponse, ConsoleError> {
    render(
        &state,
        &signed,
        StatusCode::OK,
        notice_for(query.done.as_deref()),
        None,
    )
    .await
}

/// Shows the account page again with `message` in the error box (400): nothing changed.
async fn refused(state: &AppState, signed: &SignedIn, message: &str) -> AccountResult {
    render(state, signed, StatusCode::BAD_REQUEST, None, Some(message)).await
}

type AccountResult = Result<HttpResponse, ConsoleError>;

const WRONG_PASSWORD: &str = "The current password is not correct.";

/// `POST /console/account/password`: every session of the operator ends, and this browser gets
/// a fresh one.
pub async fn change_password(
    state: web::Data<AppState>,
    posted: SignedForm<PasswordForm>,
) -> AccountResult {
    let SignedForm { signed, form } = posted;
    let now = now_micros();
    if form.new_password != form.confirm_password {
        return refused(&state, &signed, "The two new passwords differ.").await;
    }
    let new = match Password::parse(&form.new_password) {
        Ok(p) => p,
        Err(m) => return refused(&state, &signed, &format!("The new password {m}.")).await,
    };
    let changed = state
        .operators
        .change_password(
            &state.db,
            &signed.audit,
            &signed.operator.id,
            &form.current_password,
            &new,
            now,
        )
        .await?;
    if !changed {
        return refused(&state, &signed, WRONG_PASSWORD).await;
    }
    // Every session ended with the change, this one included: the browser that made the change
    // gets a fresh one.
    let session = sessions::create(
        &state.db,
        &state.config.console,
        &signed.audit,
        &signed.operator,
        now,
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            actix_web::http::header::LOCATION,
            "/console/account?done=password",
        ))
        .cookie(session_cookie(&state.config.issuer, session.expose()))
        .finish())
}

/// `POST /console/account/totp/begin`: a pending secret, shown on the account page until it is
/// confirmed.
pub async fn totp_begin(
    state: web::Data<AppState>,
    posted: SignedForm<CurrentPasswordForm>,
) -> AccountResult {
    let SignedForm { signed, form } = posted;
    let begun = state
        .operators
        .totp_begin(
            &state.db,
            &signed.operator.id,
            &form.current_password,
            now_micros(),
        )
        .await?;
    match begun {
        Some(_) => Ok(see_other("/console/account")),
        None => refused(&state, &signed, WRONG_PASSWORD).await,
    }
}

/// `POST /console/account/totp/confirm`: one valid code turns two-step sign-in on.
pub async fn totp_confirm(
    state: web::Data<AppState>,
    posted: SignedForm<CodeForm>,
) -> AccountResult {
    let SignedForm { signed, form } = posted;
    let ok = state
        .operators
        .totp_confirm(
            &state.db,
            &signed.audit,
            &signed.operator.id,
            &form.code,
            now_micros(),
        )
        .await?;
    if ok {
        Ok(see_other("/console/account?done=totp-on"))
    } else {
        refused(
            &state,
            &signed,
            "That code is not correct; enter the current one.",
        )
        .await
    }
}

/// `POST /console/account/totp/disable`.
pub async fn totp_disable(
    state: web::Data<AppState>,
    posted: SignedForm<CurrentPasswordForm>,
) -> AccountResult {
    let SignedForm { signed, form } = posted;
    let ok = state
        .operators
        .totp_disable(
            &state.db,
            &signed.audit,
            &signed.operator.id,
            &form.current_password,
            now_micros(),
        )
        .await?;
    if ok {
        Ok(see_other("/console/account?done=totp-off"))
    } else {
        refused(&state, &signed, WRONG_PASSWORD).await
    }
}
