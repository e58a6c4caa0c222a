//! `/console/account`: the signed-in operator's own account — change password, TOTP
//! enrolment (begin, confirm with one code) and removal.

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

#[derive(Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
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
        @if let Some(n) = notice { p class="notice" role="status" { (n) } }
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        @if required {
            p role="alert" { "Admins must use two-step sign-in: set up an authenticator app to continue." }
        }
        dl {
            dt { "Email" } dd { (signed.operator.email) }
            dt { "Role" } dd { (signed.operator.role) }
        }
        h2 { "Change password" }
        form class="stack" method="post" action="/console/account" {
            input type="hidden" name="csrf_token" value=(csrf);
            input type="hidden" name="action" value="change_password";
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
            form class="stack" method="post" action="/console/account" data-confirm="Turn two-step sign-in off?" {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="action" value="totp_disable";
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
            form class="stack" method="post" action="/console/account" {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="action" value="totp_confirm";
                label { "Code"
                    input type="text" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required;
                }
                button type="submit" { "Confirm" }
            }
        } @else {
            p { "Off. Sign-ins ask only for your password." }
            form class="stack" method="post" action="/console/account" {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="action" value="totp_begin";
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

/// `POST /console/account`: one of `change_password`, `totp_begin`, `totp_confirm`,
/// `totp_disable`.
pub async fn account(
    state: web::Data<AppState>,
    posted: SignedForm<AccountForm>,
) -> Result<HttpResponse, ConsoleError> {
    let SignedForm { signed, form } = posted;
    let now = now_micros();
    let id = &signed.operator.id;
    match form.action.as_str() {
        "change_password" => {
            if form.new_password != form.confirm_password {
                return render(
                    &state,
                    &signed,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("The two new passwords differ."),
                )
                .await;
            }
            let new = match Password::parse(&form.new_password) {
                Ok(p) => p,
                Err(m) => {
                    let message = format!("The new password {m}.");
                    return render(
                        &state,
                        &signed,
                        StatusCode::BAD_REQUEST,
                        None,
                        Some(&message),
                    )
                    .await;
                }
            };
            let changed = state
                .operators
                .change_password(
                    &state.db,
                    &signed.audit,
                    id,
                    &form.current_password,
                    &new,
                    now,
                )
                .await?;
            if !changed {
                return render(
                    &state,
                    &signed,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("The current password is not correct."),
                )
                .await;
            }
            // Every session ended with the change, this one included: the browser that made the
            // change gets a fresh one.
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
        "totp_begin" => {
            let begun = state
                .operators
                .totp_begin(&state.db, id, &form.current_password, now)
                .await?;
            if begun.is_some() {
                Ok(see_other("/console/account"))
            } else {
                render(
                    &state,
                    &signed,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("The current password is not correct."),
                )
                .await
            }
        }
        "totp_confirm" => {
            let ok = state
                .operators
                .totp_confirm(&state.db, &signed.audit, id, &form.code, now)
                .await?;
            if ok {
                Ok(see_other("/console/account?done=totp-on"))
            } else {
                render(
                    &state,
                    &signed,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("That code is not correct; enter the current one."),
                )
                .await
            }
        }
        "totp_disable" => {
            let ok = state
                .operators
                .totp_disable(&state.db, &signed.audit, id, &form.current_password, now)
                .await?;
            if ok {
                Ok(see_other("/console/account?done=totp-off"))
            } else {
                render(
                    &state,
                    &signed,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("The current password is not correct."),
                )
                .await
            }
        }
        _ => Err(ConsoleError::BadForm("Unknown action.".into())),
    }
}
