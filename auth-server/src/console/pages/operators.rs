//! `/console/operators` (admins only): list, create (with an initial password, or a one-time
//! setup link shown once, on the page the POST redirects to), change role, disable / enable,
//! reset TOTP (a lost authenticator: the operator's sessions end). An admin cannot change their
//! own account here (`policy::change_operator`), and the last active admin cannot be demoted or
//! disabled by anyone (`service::operators`).

use actix_web::http::StatusCode;
use actix_web::web::{self, Path};
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::{
    bad_input, csrf_field, denied, flash, form_error, or_form_again, page, refused, secret_box,
    see_other, service_error, shaped, unpack, who, Form, Posted,
};
use crate::console::policy::{self, Page};
use crate::console::{ConsoleError, SignedIn};
use crate::routes::AppState;
use crate::service::operators::{self, Email, OperatorView, Password, Role};
use crate::service::{now_micros, reveals};

type PageResult = Result<HttpResponse, ConsoleError>;

/// `GET /console/operators`.
pub async fn list(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Operators).map_err(refused(
        &state,
        &signed,
        "operator.list",
        "",
    ))?;
    render_list(&state, &signed, flash(&req), None).await
}

/// The list page with `message` above it and the create form — empty, or as the admin filled it
/// (the password excepted) with the error that refused it (400).
async fn render_list(
    state: &AppState,
    signed: &SignedIn,
    message: Markup,
    refused_draft: Option<(&Draft, &str)>,
) -> PageResult {
    let ops = operators::list(&state.db).await.map_err(service_error)?;
    let status = match refused_draft {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let empty = Draft::default();
    let (draft, error) = match refused_draft {
        Some((d, e)) => (d, Some(e)),
        None => (&empty, None),
    };
    let body = html! {
        h1 { "Operators" }
        (message)
        div .table-wrap {
            table #operators .cards {
                caption { (ops.len()) " operators" }
                thead { tr {
                    th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "TOTP" }
                    th scope="col" { "Status" } th scope="col" { "Created" }
                    th scope="col" { span .visually-hidden { "Actions" } }
                } }
                tbody {
                    @for op in &ops { (row(signed, op)) }
                }
            }
        }
        (create_form(signed, draft, error))
    };
    Ok(page(status, signed, "Operators", body))
}

/// The create form as typed (never the password).
#[derive(Debug, Default)]
struct Draft {
    email: String,
    role: Option<Role>,
}

impl Draft {
    fn of(form: &Form) -> Draft {
        Draft {
            email: form.get("email").ok().flatten().unwrap_or("").to_owned(),
            role: form.get("role").ok().flatten().and_then(|r| r.parse().ok()),
        }
    }
}

fn row(signed: &SignedIn, op: &OperatorView) -> Markup {
    let base = format!("/console/operators/{}", op.id);
    let role_id = format!("role-{}", op.id);
    let me = policy::change_operator(who(signed), &op.id).is_err();
    html! {
        tr data-id=(op.id) {
            td data-label="Email" { (op.email) @if me { " (you)" } }
            td data-label="Role" { (op.role) }
            td data-label="TOTP" { @if op.totp_enabled { "enrolled" } @else { "no" } }
            td data-label="Status" { @if op.disabled { "disabled" } @else { "active" } }
            td data-label="Created" { time datetime=(op.created_at) { (op.created_at) } }
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

fn create_form(signed: &SignedIn, draft: &Draft, error: Option<&str>) -> Markup {
    let chosen = draft.role.unwrap_or(Role::Developer);
    html! {
        section aria-labelledby="create-heading" {
            h2 #create-heading { "New operator" }
            @if let Some(e) = error { (form_error(e)) }
            form #create-operator method="post" action="/console/operators" {
                (csrf_field(signed))
                div .field {
                    label for="op-email" { "Email" }
                    input type="email" name="email" id="op-email" required maxlength="254" autocomplete="off" value=(draft.email);
                }
                div .field {
                    label for="op-role" { "Role" }
                    select name="role" id="op-role" required {
                        @for r in Role::ALL {
                            option value=(r.as_str()) selected[r == chosen] { (r.as_str()) }
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

/// `POST /console/operators`: 303 to the new operator's page, which shows a setup link (when no
/// password was given) once. A refused form comes back filled in (not the password), with the
/// reason (400).
pub async fn create(state: web::Data<AppState>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let (state, signed, form) = (&state, &signed, &form);
    or_form_again(
        create_from(state, signed, form).await,
        |message| async move {
            let draft = Draft::of(form);
            render_list(state, signed, html! {}, Some((&draft, &message))).await
        },
    )
    .await
}

async fn create_from(state: &AppState, signed: &SignedIn, form: &Form) -> PageResult {
    policy::write(signed.operator.role, Page::Operators).map_err(refused(
        state,
        signed,
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
    let now = now_micros();
    // The server's path: the password is hashed under the login-hashing bound.
    let created = state
        .operators
        .create(&state.db, &signed.audit, email, role, password, now)
        .await
        .map_err(service_error)?;
    let op = &created.operator;
    tracing::info!("operator {} created in the console", op.id);
    let with = match &created.setup_token {
        Some(token) => {
            let link = operators::setup_link(&state.config.issuer, token);
            let target = reveals::target("operator", &op.id);
            reveals::stash(&state.db, &signed.session, &target, &link, now)
                .await
                .map_err(service_error)?;
            "link"
        }
        None => "password",
    };
    Ok(see_other(&format!(
        "/console/operators/{}/created?with={with}",
        op.id
    )))
}

/// `GET /console/operators/{id}/created`: the new operator, with their setup link the first
/// time (when one was made), without it after.
pub async fn created(
    req: HttpRequest,
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    policy::page(signed.operator.role, Page::Operators).map_err(refused(
        &state,
        &signed,
        "operator.list",
        "",
    ))?;
    if !shared::validate::plausible_id("op", &id) {
        return Err(ConsoleError::NotFound);
    }
    let op = operators::get(&state.db, &id)
        .await
        .map_err(service_error)?;
    let with_password = Form::query(&req)?.optional("with")? == Some("password");
    let target = reveals::target("operator", &op.id);
    let link = reveals::take(&state.db, &signed.session, &target, now_micros())
        .await
        .map_err(service_error)?;
    let body = html! {
        h1 { "Operator created" }
        p #flash .flash.success role="status" { (op.email) " was created as " (op.role) "." }
        @match &link {
            Some(link) => (secret_box("One-time setup link", link.expose())),
            None if with_password => p { "They can sign in with their password." },
            None => p #secret-gone .note role="status" {
                "The setup link was shown once, when this page was first opened. If it was lost, make a new one with "
                code { "auth-server operator setup-link" } "."
            },
        }
        p { a href="/console/operators" { "All operators" } }
    };
    Ok(page(StatusCode::OK, &signed, "Operator created", body))
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
    policy::change_operator(who(signed), &op.id).map_err(denied)?;
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
