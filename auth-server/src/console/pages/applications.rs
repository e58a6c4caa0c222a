//! `/console/applications`: list, create (the secret shown once, on the page the POST redirects
//! to), detail, rotate the secret (likewise),
//! revoke all tokens, disable / enable, delete with a confirmation step.

use actix_web::http::StatusCode;
use actix_web::web::{self, Path};
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::{
    bad_input, chosen_tier, csrf_field, denied, environment_select, flash, form_error,
    or_form_again, page, parse_environment, refused, scope_checkboxes, scope_list,
    scoped_environment, secret_or_note, see_other, service_error, shaped, tier_select, unpack,
    when, who, CredentialDraft, Form, Posted,
};
use crate::console::policy::{self, Credential, Page};
use crate::console::{ConsoleError, SignedIn};
use crate::routes::AppState;
use crate::service::applications::{
    self, ApplicationFilter, ApplicationView, CreateApplication, PatchApplication, RotateSecret,
};
use crate::service::{now_micros, reveals};

type PageResult = Result<HttpResponse, ConsoleError>;

fn credential(app: &ApplicationView) -> Credential<'_> {
    Credential {
        environment: app.environment,
        owner_id: app.owner_id.as_deref(),
    }
}

fn detail_url(client_id: &str) -> String {
    format!("/console/applications/{client_id}")
}

/// The application as `signed` may see it for `operation`: 404 when missing or not theirs
/// (a refusal the audit trail counts).
async fn visible(
    state: &AppState,
    signed: &SignedIn,
    client_id: &str,
    operation: &'static str,
) -> Result<ApplicationView, ConsoleError> {
    let app = applications::get(&state.db, client_id)
        .await
        .map_err(service_error)?;
    policy::view(who(signed), credential(&app)).map_err(refused(
        state,
        signed,
        operation,
        &app.client_id,
    ))?;
    Ok(app)
}

/// The first steps of every change (after the form's CSRF check in [`Posted`]): the role
/// (before any lookup), the application, and whether this operator may change it. Each
/// refusal is counted for the audit trail as `operation`.
async fn changeable(
    signed: &SignedIn,
    state: &AppState,
    client_id: &str,
    operation: &'static str,
) -> Result<ApplicationView, ConsoleError> {
    policy::write(signed.operator.role, Page::Applications).map_err(refused(
        state,
        signed,
        operation,
        shaped("app", client_id),
    ))?;
    let app = applications::get(&state.db, client_id)
        .await
        .map_err(service_error)?;
    policy::change(who(signed), credential(&app)).map_err(refused(
        state,
        signed,
        operation,
        &app.client_id,
    ))?;
    Ok(app)
}

/// `GET /console/applications?environment=&status=`.
pub async fn list(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Applications).map_err(denied)?;
    let q = Form::query(&req)?;
    render_list(&state, &signed, &q, flash(&req), None).await
}

/// The list page: the filter `q`, `message` above it, and the create form — empty, or as the
/// operator filled it with the error that refused it (400).
async fn render_list(
    state: &AppState,
    signed: &SignedIn,
    q: &Form,
    message: Markup,
    refused_draft: Option<(&CredentialDraft, &str)>,
) -> PageResult {
    let asked_env = q
        .optional("environment")?
        .map(parse_environment)
        .transpose()?;
    let disabled = q.status_flag("enabled", "disabled")?;
    let scope = policy::list_scope(who(signed));
    let apps = match scoped_environment(scope.environment, asked_env) {
        None => Vec::new(),
        Some(environment) => {
            let filter = ApplicationFilter {
                environment,
                disabled,
                owner_id: scope.owner_id,
            };
            applications::list(&state.db, &filter)
                .await
                .map_err(service_error)?
        }
    };
    let may_create = policy::write(signed.operator.role, Page::Applications).is_ok();
    let status = match refused_draft {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let empty = CredentialDraft::default();
    let (draft, error) = match refused_draft {
        Some((d, e)) => (d, Some(e)),
        None => (&empty, None),
    };
    let body = html! {
        h1 { "Applications" }
        (message)
        form #filter method="get" action="/console/applications" {
            label for="filter-environment" { "Environment" }
            select name="environment" id="filter-environment" {
                option value="" selected[asked_env.is_none()] { "any" }
                option value="sandbox" selected[asked_env == Some(shared::Environment::Sandbox)] { "sandbox" }
                option value="live" selected[asked_env == Some(shared::Environment::Live)] { "live" }
            }
            label for="filter-status" { "Status" }
            select name="status" id="filter-status" {
                option value="" selected[disabled.is_none()] { "any" }
                option value="enabled" selected[disabled == Some(false)] { "enabled" }
                option value="disabled" selected[disabled == Some(true)] { "disabled" }
            }
            button type="submit" { "Filter" }
        }
        div .table-wrap {
            table #applications {
                caption { (apps.len()) " applications" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Client id" }
                    th scope="col" { "Environment" } th scope="col" { "Tier" }
                    th scope="col" { "Status" } th scope="col" { "Last token" }
                } }
                tbody {
                    @for app in &apps {
                        tr data-id=(app.client_id) {
                            td { a href=(detail_url(&app.client_id)) { (app.name) } }
                            td { code { (app.client_id) } }
                            td { (app.environment.as_str()) }
                            td { (app.tier.as_str()) }
                            td { @if app.disabled { "disabled" } @else { "enabled" } }
                            td { (when(app.last_token_at.as_deref(), "never")) }
                        }
                    }
                }
            }
        }
        @if may_create { (create_form(signed, draft, error)) }
    };
    Ok(page(status, signed, "Applications", body))
}

fn create_form(signed: &SignedIn, draft: &CredentialDraft, error: Option<&str>) -> Markup {
    html! {
        section aria-labelledby="create-heading" {
            h2 #create-heading { "New application" }
            @if let Some(e) = error { (form_error(e)) }
            form #create-application method="post" action="/console/applications" {
                (csrf_field(signed))
                div .field {
                    label for="app-name" { "Name" }
                    input type="text" name="name" id="app-name" required maxlength="200" value=(draft.name);
                }
                div .field {
                    label for="app-description" { "Description" }
                    textarea name="description" id="app-description" maxlength="2000" { (draft.description) }
                }
                (scope_checkboxes(&draft.scopes))
                div .field { (environment_select(signed, "app-environment", draft.environment)) }
                div .field { (tier_select(signed, "app-tier", draft.tier)) }
                div .field {
                    label for="app-jwks" { "Public keys (JWKS), for private_key_jwt" }
                    textarea name="jwks" id="app-jwks" rows="4" aria-describedby="app-jwks-help" {}
                    p #app-jwks-help .help {
                        "Paste {\"keys\": [...]} (public EC P-256, Ed25519 or RSA ≥ 2048 keys) to authenticate with signed JWTs and no secret; leave empty for a client secret."
                    }
                }
                div .checkbox {
                    input type="checkbox" name="dpop_bound" value="yes" id="app-dpop";
                    label for="app-dpop" { "Require DPoP-bound tokens" }
                }
                button type="submit" { "Create application" }
            }
        }
    }
}

/// `POST /console/applications`: 303 to the page that shows the client secret, once
/// (post/redirect/get: a reload never makes a second application). A refused form comes back
/// filled in, with the reason (400).
pub async fn create(state: web::Data<AppState>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let (state, signed, form) = (&state, &signed, &form);
    or_form_again(
        create_from(state, signed, form).await,
        |message| async move {
            let draft = CredentialDraft::of(form);
            let none = Form::from_pairs(Vec::new())?;
            render_list(state, signed, &none, html! {}, Some((&draft, &message))).await
        },
    )
    .await
}

async fn create_from(state: &AppState, signed: &SignedIn, form: &Form) -> PageResult {
    let refused_create = || refused(state, signed, "application.create", "");
    policy::write(signed.operator.role, Page::Applications).map_err(refused_create())?;
    let environment = parse_environment(form.required("environment")?)?;
    policy::create(signed.operator.role, environment).map_err(refused_create())?;
    let jwks = pasted_jwks(form)?;
    let input = CreateApplication {
        name: form.required("name")?.to_owned(),
        description: form.get("description")?.map(str::to_owned),
        scopes: form.all("scopes"),
        environment: Some(environment.as_str().to_owned()),
        tier: chosen_tier(state, signed, form, "application.create")?,
        introspection: None,
        token_endpoint_auth_method: jwks.is_some().then(|| "private_key_jwt".to_owned()),
        jwks,
        dpop_bound_access_tokens: form.get("dpop_bound")?.is_some().then_some(true),
    };
    let mut new = input.validate().map_err(service_error)?;
    new.owner_id = policy::owner_of_new(who(signed));
    let now = now_micros();
    let created = applications::create(&state.db, &signed.audit, new, now)
        .await
        .map_err(service_error)?;
    let app = &created.application;
    tracing::info!("application {} created in the console", app.client_id);
    if created.client_secret.is_none() {
        // No secret to show once: straight to its page.
        return Ok(see_other(&format!(
            "{}?done=created_with_keys",
            detail_url(&app.client_id)
        )));
    }
    let target = reveals::target("application", &app.client_id);
    reveals::stash(
        &state.db,
        &signed.session,
        &target,
        created.client_secret.as_deref().ok_or_else(|| {
            service_error(crate::error::Error::Internal("no secret to show".into()))
        })?,
        now,
    )
    .await
    .map_err(service_error)?;
    Ok(see_other(&format!(
        "{}/created",
        detail_url(&app.client_id)
    )))
}

/// `GET /console/applications/{client_id}/created`: the new application with its client
/// secret the first time, without it after (the secret waited for this page in the session).
pub async fn created(signed: SignedIn, state: web::Data<AppState>, id: Path<String>) -> PageResult {
    policy::page(signed.operator.role, Page::Applications).map_err(denied)?;
    let app = visible(&state, &signed, &id, "application.view").await?;
    let target = reveals::target("application", &app.client_id);
    let secret = reveals::take(&state.db, &signed.session, &target, now_micros())
        .await
        .map_err(service_error)?;
    let body = html! {
        h1 { "Application created" }
        p #flash .flash.success role="status" { "The application " strong { (app.name) } " was created." }
        dl .fields {
            dt { "Client id" } dd { code { (app.client_id) } }
            dt { "Environment" } dd { (app.environment.as_str()) }
        }
        (secret_or_note("Client secret", secret.as_ref(), ROTATE_IF_LOST))
        p { a href=(detail_url(&app.client_id)) { "Go to the application" } }
    };
    Ok(page(StatusCode::OK, &signed, "Application created", body))
}

/// What a page says once the secret has been shown.
const ROTATE_IF_LOST: &str =
    "The client secret was shown once, when this page was first opened, and cannot be shown again. If it was not stored, rotate it.";

/// `GET /console/applications/{client_id}`.
pub async fn detail(
    req: HttpRequest,
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    policy::page(signed.operator.role, Page::Applications).map_err(denied)?;
    let app = visible(&state, &signed, &id, "application.view").await?;
    Ok(render_detail(&signed, &app, flash(&req), None))
}

/// A rotation the server refused: the grace period as typed and why, above the form.
struct RefusedRotation<'a> {
    grace: &'a str,
    revoke_tokens: bool,
    error: &'a str,
}

/// The detail page, with `message` under the heading; a refused rotation comes back as typed,
/// with its reason (400).
fn render_detail(
    signed: &SignedIn,
    app: &ApplicationView,
    message: Markup,
    refused_rotation: Option<RefusedRotation<'_>>,
) -> HttpResponse {
    let may_change = policy::change(who(signed), credential(app)).is_ok();
    let base = detail_url(&app.client_id);
    let status = match refused_rotation {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let (grace, revoke, error) = match &refused_rotation {
        Some(r) => (r.grace, r.revoke_tokens, Some(r.error)),
        None => ("", false, None),
    };
    let body = html! {
        h1 { (app.name) }
        (message)
        dl .fields {
            dt { "Client id" } dd { code { (app.client_id) } }
            dt { "Description" } dd { @if app.description.is_empty() { "—" } @else { (app.description) } }
            dt { "Environment" } dd { (app.environment.as_str()) }
            dt { "Tier" } dd { (app.tier.as_str()) }
            dt { "Scopes" } dd { (scope_list(&app.scopes)) }
            dt { "Client authentication" } dd #auth-method { code { (app.token_endpoint_auth_method) } }
            dt { "DPoP-bound tokens" } dd #dpop-bound { @if app.dpop_bound_access_tokens { "required" } @else { "optional" } }
            dt { "Status" } dd #status { @if app.disabled { "disabled" } @else { "enabled" } }
            dt { "Last token issued" } dd #last-token { (when(app.last_token_at.as_deref(), "never")) }
            dt { "Tokens refused if issued before" } dd { (when(app.tokens_not_before.as_deref(), "—")) }
            dt { "Owner" } dd { (app.owner_id.as_deref().unwrap_or("ops-managed")) }
            dt { "Created" } dd { (when(Some(&app.created_at), "")) }
            dt { "Updated" } dd { (when(Some(&app.updated_at), "")) }
        }
        @if !app.keys.is_empty() {
            div .table-wrap {
                table #keys {
                    caption { "Registered keys" }
                    thead { tr { th scope="col" { "Key id" } th scope="col" { "Algorithm" } th scope="col" { "Thumbprint (RFC 7638, SHA-256)" } } }
                    tbody {
                        @for k in &app.keys {
                            tr { td { (k.kid.as_deref().unwrap_or("—")) } td { (k.alg) } td { code { (k.thumbprint) } } }
                        }
                    }
                }
            }
        }
        @if may_change && !app.keys.is_empty() {
            section aria-labelledby="keys-heading" {
                h2 #keys-heading { "Replace the keys" }
                @if let Some(e) = error { (form_error(e)) }
                form #replace-keys method="post" action=(format!("{base}/jwks")) {
                    (csrf_field(signed))
                    div .field {
                        label for="jwks" { "Public keys (JWKS)" }
                        textarea name="jwks" id="jwks" rows="6" required aria-describedby="jwks-help" {}
                        p #jwks-help .help { "The whole new set: to rotate, register the new key beside the old one, then remove the old one." }
                    }
                    button type="submit" { "Replace keys" }
                }
            }
        }
        @if may_change && app.keys.is_empty() {
            section aria-labelledby="rotate-heading" {
                h2 #rotate-heading { "Rotate the secret" }
                @if let Some(e) = error { (form_error(e)) }
                form #rotate-secret method="post" action=(format!("{base}/rotate-secret")) {
                    (csrf_field(signed))
                    div .field {
                        label for="grace" { "Grace period for the old secret (seconds)" }
                        input type="number" name="grace_period_seconds" id="grace" min="0"
                            max=(applications::MAX_GRACE_PERIOD_SECS) inputmode="numeric"
                            aria-describedby="grace-help" value=(grace);
                        p #grace-help .help {
                            "Empty: the old secret keeps working until the new one is first used (at most 7 days). 0 ends it at once."
                        }
                    }
                    div .checkbox {
                        input type="checkbox" name="revoke_tokens" value="yes" id="rotate-revoke" checked[revoke];
                        label for="rotate-revoke" { "Also revoke every token issued before now" }
                    }
                    button type="submit" { "Rotate secret" }
                }
            }
        }
        @if may_change {
            section aria-labelledby="actions-heading" {
                h2 #actions-heading { "Actions" }
                form method="post" action=(format!("{base}/revoke-tokens")) {
                    (csrf_field(signed))
                    button type="submit" { "Revoke all tokens" }
                }
                @if app.disabled {
                    form method="post" action=(format!("{base}/enable")) {
                        (csrf_field(signed))
                        button type="submit" { "Enable" }
                    }
                } @else {
                    form method="post" action=(format!("{base}/disable")) {
                        (csrf_field(signed))
                        button type="submit" { "Disable" }
                    }
                }
                form method="get" action=(format!("{base}/delete")) {
                    button type="submit" .danger { "Delete" }
                }
            }
        }
        p { a href="/console/applications" { "All applications" } }
    };
    page(status, signed, &app.name, body)
}

/// `POST …/rotate-secret`: 303 to the page that shows the new secret, once.
pub async fn rotate_secret(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let app = changeable(&signed, &state, &id, "application.rotate_secret").await?;
    let (signed, app, form) = (&signed, &app, &form);
    or_form_again(
        rotate(&state, signed, app, form).await,
        |message| async move {
            let refused_rotation = RefusedRotation {
                grace: form
                    .get("grace_period_seconds")
                    .ok()
                    .flatten()
                    .unwrap_or(""),
                revoke_tokens: form.get("revoke_tokens").ok().flatten().is_some(),
                error: &message,
            };
            Ok(render_detail(signed, app, html! {}, Some(refused_rotation)))
        },
    )
    .await
}

async fn rotate(
    state: &AppState,
    signed: &SignedIn,
    app: &ApplicationView,
    form: &Form,
) -> PageResult {
    let grace_period_seconds = form
        .optional("grace_period_seconds")?
        .map(|g| {
            g.parse::<i64>()
                .map_err(|_| bad_input("The grace period must be a whole number of seconds."))
        })
        .transpose()?;
    let revoke_tokens = match form.optional("revoke_tokens")? {
        None => false,
        Some("yes" | "on" | "true") => true,
        Some(_) => return Err(bad_input("revoke_tokens must be yes or absent.")),
    };
    let now = now_micros();
    let rotated = applications::rotate_secret(
        &state.db,
        &signed.audit,
        &app.client_id,
        RotateSecret {
            grace_period_seconds,
            revoke_tokens: Some(revoke_tokens),
        },
        now,
    )
    .await
    .map_err(service_error)?;
    tracing::info!(
        "application {} secret rotated in the console",
        app.client_id
    );
    let target = reveals::target("application", &app.client_id);
    reveals::stash(
        &state.db,
        &signed.session,
        &target,
        rotated.client_secret.as_deref().ok_or_else(|| {
            service_error(crate::error::Error::Internal("no secret to show".into()))
        })?,
        now,
    )
    .await
    .map_err(service_error)?;
    let grace = match grace_period_seconds {
        None => "until-used".to_owned(),
        Some(g) => g.to_string(),
    };
    Ok(see_other(&format!(
        "{}/rotated?grace={grace}",
        detail_url(&app.client_id)
    )))
}

/// `GET /console/applications/{client_id}/rotated?grace=`: the new secret the first time,
/// without it after; `grace` (seconds, or `until-used`) only words the old secret's fate.
pub async fn rotated(
    req: HttpRequest,
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    policy::page(signed.operator.role, Page::Applications).map_err(denied)?;
    let app = visible(&state, &signed, &id, "application.view").await?;
    let q = Form::query(&req)?;
    let grace = match q.optional("grace")? {
        Some("0") => "The old secret no longer works.".to_owned(),
        Some(g) => match g.parse::<u32>() {
            Ok(g) => format!("The old secret keeps working for {g} seconds."),
            Err(_) => {
                "The old secret keeps working until the new one is first used (at most 7 days)."
                    .to_owned()
            }
        },
        None => String::new(),
    };
    let target = reveals::target("application", &app.client_id);
    let secret = reveals::take(&state.db, &signed.session, &target, now_micros())
        .await
        .map_err(service_error)?;
    let body = html! {
        h1 { "Secret rotated" }
        p #flash .flash.success role="status" { "A new secret was issued for " strong { (app.name) } ". " (grace) }
        (secret_or_note("New client secret", secret.as_ref(), ROTATE_IF_LOST))
        p { a href=(detail_url(&app.client_id)) { "Back to the application" } }
    };
    Ok(page(StatusCode::OK, &signed, "Secret rotated", body))
}

/// `POST …/revoke-tokens`.
pub async fn revoke_tokens(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
) -> PageResult {
    let (signed, _) = unpack(posted)?;
    let app = changeable(&signed, &state, &id, "application.revoke_tokens").await?;
    applications::revoke_tokens(&state.db, &signed.audit, &app.client_id, now_micros())
        .await
        .map_err(service_error)?;
    Ok(see_other(&format!(
        "{}?done=tokens_revoked",
        detail_url(&app.client_id)
    )))
}

async fn set_disabled(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
    disabled: bool,
) -> PageResult {
    let (signed, _) = unpack(posted)?;
    let operation = if disabled {
        "application.disable"
    } else {
        "application.enable"
    };
    let app = changeable(&signed, &state, &id, operation).await?;
    if !disabled {
        policy::enable(signed.operator.role, app.disabled_by_admin).map_err(|_| {
            state
                .refusals
                .note_console(&signed.audit, operation, &app.client_id);
            ConsoleError::Forbidden(applications::ADMIN_DISABLED.into())
        })?;
    }
    let patch = PatchApplication {
        disabled: Some(disabled),
        ..Default::default()
    };
    applications::patch(
        &state.db,
        &signed.audit,
        &app.client_id,
        patch,
        policy::changed_by(signed.operator.role),
        now_micros(),
    )
    .await
    .map_err(service_error)?;
    let done = if disabled { "disabled" } else { "enabled" };
    Ok(see_other(&format!(
        "{}?done={done}",
        detail_url(&app.client_id)
    )))
}

/// A pasted JWKS (empty: none). Not JSON is a refused form; the keys are checked by the service.
fn pasted_jwks(form: &Form) -> Result<Option<serde_json::Value>, ConsoleError> {
    match form.get("jwks")?.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|_| bad_input("The keys must be a JSON key set: {\"keys\": [...]}.")),
    }
}

/// `POST …/jwks`: replaces a `private_key_jwt` application's keys.
pub async fn replace_jwks(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let app = changeable(&signed, &state, &id, "application.update").await?;
    let outcome = async {
        let jwks = pasted_jwks(&form)?.ok_or_else(|| bad_input("Paste the new key set."))?;
        let patch = PatchApplication {
            jwks: Some(jwks),
            ..Default::default()
        };
        applications::patch(
            &state.db,
            &signed.audit,
            &app.client_id,
            patch,
            policy::changed_by(signed.operator.role),
            now_micros(),
        )
        .await
        .map_err(service_error)
    }
    .await;
    let done = outcome.map(|_| {
        see_other(&format!(
            "{}?done=keys_replaced",
            detail_url(&app.client_id)
        ))
    });
    let (signed, app) = (&signed, &app);
    or_form_again(done, |message| async move {
        let refused = RefusedRotation {
            grace: "",
            revoke_tokens: false,
            error: &message,
        };
        Ok(render_detail(signed, app, html! {}, Some(refused)))
    })
    .await
}

/// `POST …/disable`.
pub async fn disable(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    set_disabled(state, id, posted, true).await
}

/// `POST …/enable`.
pub async fn enable(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    set_disabled(state, id, posted, false).await
}

fn confirm_page(signed: &SignedIn, app: &ApplicationView) -> HttpResponse {
    let body = html! {
        h1 { "Delete " (app.name) "?" }
        p .warning role="alert" {
            "Deleting the application refuses its secret and every token it holds. This cannot be undone."
        }
        form #confirm method="post" action=(format!("{}/delete", detail_url(&app.client_id))) {
            (csrf_field(signed))
            input type="hidden" name="confirm" value="yes";
            button type="submit" .danger { "Confirm" }
        }
        p { a href=(detail_url(&app.client_id)) { "Cancel" } }
    };
    page(StatusCode::OK, signed, "Delete application", body)
}

/// `GET …/delete`: the confirmation step.
pub async fn confirm_delete(
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    let operation = "application.delete";
    policy::write(signed.operator.role, Page::Applications).map_err(refused(
        &state,
        &signed,
        operation,
        shaped("app", &id),
    ))?;
    let app = visible(&state, &signed, &id, operation).await?;
    policy::change(who(&signed), credential(&app)).map_err(refused(
        &state,
        &signed,
        operation,
        &app.client_id,
    ))?;
    Ok(confirm_page(&signed, &app))
}

/// `POST …/delete`: deletes only with `confirm=yes`; without it, the confirmation page again.
pub async fn delete(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let app = changeable(&signed, &state, &id, "application.delete").await?;
    if form.get("confirm")? != Some("yes") {
        return Ok(confirm_page(&signed, &app));
    }
    applications::delete(&state.db, &signed.audit, &app.client_id, now_micros())
        .await
        .map_err(service_error)?;
    tracing::info!("application {} deleted in the console", app.client_id);
    Ok(see_other("/console/applications?done=deleted"))
}
