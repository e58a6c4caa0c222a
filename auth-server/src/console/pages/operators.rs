//! `/console/operators` (admins only): list, create (with an initial password, or a one-time
//! setup link shown once), change role, disable / enable, reset TOTP (a lost authenticator: the
//! operator's sessions end). An admin cannot change their own role or disable themselves here,
//! and the last active admin cannot be demoted or disabled by anyone (`service::operators`).

use actix_web::http::StatusCode;
use actix_web::web::{self, Path};
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::{
    bad_input, csrf_field, flash, page, refused, secret_box, see_other, service_error, shaped,
    unpack, Posted,
};
use crate::console::policy::{self, Page};
use crate::console::{ConsoleError, SignedIn};
use crate::routes::AppState;
use crate::service::now_micros;
use crate::service::operators::{self, Email, OperatorView, Password, Role};

type PageResult = Result<HttpResponse, ConsoleError>;

/// `GET /console/operators`.
pub async fn list(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Operators).map_err(refused(
        &state,
        &signed,
        "operator.list",
        "",
    ))?;
    let ops = operators::list(&state.db).await.map_err(service_error)?;
    let body = html! {
        h1 { "Operators" }
        (flash(&req))
        div .table-wrap {
            table #operators {
                caption { (ops.len()) " operators" }
                thead { tr {
                    th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "TOTP" }
                    th scope="col" { "Status" } th scope="col" { "Created" }
                    th scope="col" { span .visually-hidden { "Actions" } }
                } }
                tbody {
                    @for op in &ops { (row(&signed, op)) }
                }
            }
        }
        (create_form(&signed))
    };
    Ok(page(StatusCode::OK, &signed, "Operators", body))
}

fn row(signed: &SignedIn, op: &OperatorView) -> Markup {
    let base = format!("/console/operators/{}", op.id);
    let role_id = format!("role-{}", op.id);
    let me = op.id == signed.operator.id;
    html! {
        tr data-id=(op.id) {
            td { (op.email) @if me { " (you)" } }
            td { (op.role) }
            td { @if op.totp_enabled { "enrolled" } @else { "no" } }
            td { @if op.disabled { "disabled" } @else { "active" } }
            td { time datetime=(op.created_at) { (op.created_at) } }
            td .actions {
                @if !me {
                    form method="post" action=(format!("{base}/role")) {
                        (csrf_field(signed))
                        label for=(role_id) .visually-hidden { "Role of " (op.email) }
                        select name="role" id=(role_id) {
                            @for r in Role::ALL {
                                option value=(r.as_str()) selected[r == op.role] { (r.as_str()) }
                            }
                        }
                        button type="submit" { "Change role" span .visually-hidden { " " (op.email) } }
                    }
                    @if op.totp_enabled {
                        form method="post" action=(format!("{base}/reset-totp")) data-confirm=(format!("Remove the authenticator of {}? Their sessions end.", op.email)) {
                            (csrf_field(signed))
                            button type="submit" .secondary { "Reset TOTP" span .visually-hidden { " " (op.email) } }
                        }
                    }
                    @if op.disabled {
                        form method="post" action=(format!("{base}/enable")) {
                            (csrf_field(signed))
                            button type="submit" { "Enable" span .visually-hidden { " " (op.email) } }
                        }
                    } @else {
                        form method="post" action=(format!("{base}/disable")) {
                            (csrf_field(signed))
                            button type="submit" { "Disable" span .visually-hidden { " " (op.email) } }
                        }
                    }
                }
            }
        }
    }
}

fn create_form(signed: &SignedIn) -> Markup {
    html! {
        section aria-labelledby="create-heading" {
            h2 #create-heading { "New operator" }
            form #create-operator method="post" action="/console/operators" {
                (csrf_field(signed))
                div .field {
                    label for="op-email" { "Email" }
                    input type="email" name="email" id="op-email" required maxlength="254" autocomplete="off";
                }
                div .field {
                    label for="op-role" { "Role" }
                    select name="role" id="op-role" required {
                        @for r in Role::ALL {
                            option value=(r.as_str()) selected[r == Role::Developer] { (r.as_str()) }
                        }
                    }
                }
                div .field {
                    label for="op-password" { "Initial password (optional)" }
                    input type="password" name="password" id="op-password" autocomplete="new-password"
                        minlength=(operators::MIN_PASSWORD_CHARS) aria-describedby="op-password-help";
                    p #op-password-help .help {
                        "Leave empty to get a one-time setup link (valid 24 hours) to send to them instead."
                    }
                }
                button type="submit" { "Create operator" }
            }
        }
    }
}

/// `POST /console/operators`: with no password, the answer shows the setup link, this once.
pub async fn create(state: web::Data<AppState>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    policy::write(signed.operator.role, Page::Operators).map_err(refused(
        &state,
        &signed,
        "operator.create",
        "",
    ))?;
    let email =
        Email::parse(form.required("email")?).map_err(|m| bad_input(format!("email {m}.")))?;
    let role: Role = form
        .required("role")?
        .parse()
        .map_err(|m| bad_input(format!("role {m}.")))?;
    let password = match form.get("password")? {
        None | Some("") => None,
        Some(p) => Some(Password::parse(p).map_err(|m| bad_input(format!("password {m}.")))?),
    };
    // The server's path: the password is hashed under the login-hashing bound.
    let created = state
        .operators
        .create(
            &state.db,
            &signed.audit,
            email,
            role,
            password,
            now_micros(),
        )
        .await
        .map_err(service_error)?;
    let op = &created.operator;
    tracing::info!("operator {} created in the console", op.id);
    let body = html! {
        h1 { "Operator created" }
        p #flash .flash.success role="status" { (op.email) " was created as " (op.role) "." }
        @match &created.setup_token {
            Some(token) => (secret_box("One-time setup link", &operators::setup_link(&state.config.issuer, token))),
            None => p { "They can sign in with the password you gave." },
        }
        p { a href="/console/operators" { "All operators" } }
    };
    Ok(page(StatusCode::CREATED, &signed, "Operator created", body))
}

/// The common steps of a change to an operator (after the CSRF check in [`Posted`]): role, id
/// shape, not oneself. A refused role is counted for the audit trail as `operation`.
async fn changeable(
    signed: &SignedIn,
    state: &AppState,
    id: &str,
    operation: &'static str,
) -> Result<OperatorView, ConsoleError> {
    policy::write(signed.operator.role, Page::Operators).map_err(refused(
        state,
        signed,
        operation,
        shaped("op", id),
    ))?;
    if !shared::validate::plausible_id("op", id) {
        return Err(ConsoleError::NotFound);
    }
    let op = operators::get(&state.db, id).await.map_err(service_error)?;
    if op.id == signed.operator.id {
        return Err(bad_input(
            "You cannot change your own role or disable yourself; ask another admin.",
        ));
    }
    Ok(op)
}

/// `POST /console/operators/{id}/role`.
pub async fn set_role(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let op = changeable(&signed, &state, &id, "operator.set_role").await?;
    let role: Role = form
        .required("role")?
        .parse()
        .map_err(|m| bad_input(format!("role {m}.")))?;
    operators::set_role(&state.db, &signed.audit, &op.id, role, now_micros())
        .await
        .map_err(service_error)?;
    Ok(see_other("/console/operators?done=role_changed"))
}

async fn set_disabled(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
    disabled: bool,
) -> PageResult {
    let (signed, _) = unpack(posted)?;
    let operation = if disabled {
        "operator.disable"
    } else {
        "operator.enable"
    };
    let op = changeable(&signed, &state, &id, operation).await?;
    operators::set_disabled(&state.db, &signed.audit, &op.id, disabled, now_micros())
        .await
        .map_err(service_error)?;
    let done = if disabled {
        "operator_disabled"
    } else {
        "operator_enabled"
    };
    Ok(see_other(&format!("/console/operators?done={done}")))
}

/// `POST /console/operators/{id}/disable`: their sessions end at once.
pub async fn disable(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    set_disabled(state, id, posted, true).await
}

/// `POST /console/operators/{id}/enable`.
pub async fn enable(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    set_disabled(state, id, posted, false).await
}

/// `POST /console/operators/{id}/reset-totp`: the operator's TOTP is removed and their sessions
/// end; they enrol again after signing in with their password.
pub async fn reset_totp(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
) -> PageResult {
    let (signed, _) = unpack(posted)?;
    let op = changeable(&signed, &state, &id, "operator.reset_totp").await?;
    operators::reset_totp(&state.db, &signed.audit, &op.id, now_micros())
        .await
        .map_err(service_error)?;
    Ok(see_other("/console/operators?done=totp_reset"))
}
