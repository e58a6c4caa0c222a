//! `/console/webhooks`: the resource API's webhook endpoints (issue 25). A list with the create
//! form; an endpoint's page with its recent deliveries, a change form (url, events,
//! description), enable/disable, secret rotation (with a grace period for the previous secret)
//! and delete with a confirmation step. The secret of a new or rotated endpoint is shown once,
//! on the page the POST redirects to. Admins see every endpoint; developers their own sandbox
//! ones (created here, or by a credential they own); auditors read.

use actix_web::http::StatusCode;
use actix_web::web::{self, Path};
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};
use shared::webhooks::{DEFAULT_GRACE_SECS, EVENT_TYPES};

use super::{
    bad_input, csrf_field, denied, environment_select, flash, form_error, or_form_again, page,
    parse_environment, refused, scoped_environment, secret_or_note, see_other, service_error,
    shaped, unpack, when, who, Form, Posted,
};
use crate::console::policy::{self, Credential, Page};
use crate::console::{ConsoleError, SignedIn};
use crate::db::webhook_endpoints::EndpointFilter;
use crate::routes::AppState;
use crate::service::webhook_endpoints::{
    self as endpoints, EndpointChange, EndpointView, NewEndpoint,
};
use crate::service::{now_micros, reveals};

type PageResult = Result<HttpResponse, ConsoleError>;

const LIST: &str = "/console/webhooks";
const LOST_SECRET: &str = "The secret was shown once, when this page was first opened, and cannot be shown again. If it was not stored, rotate it.";

fn credential(e: &EndpointView) -> Credential<'_> {
    Credential {
        environment: e.environment,
        owner_id: e.owner_id.as_deref(),
    }
}

fn detail_url(id: &str) -> String {
    format!("{LIST}/{id}")
}

/// The endpoint as `signed` may see it for `operation`: 404 when missing or not theirs.
async fn visible(
    state: &AppState,
    signed: &SignedIn,
    id: &str,
    operation: &'static str,
) -> Result<EndpointView, ConsoleError> {
    let e = endpoints::get(&state.db, id).await.map_err(service_error)?;
    policy::view(who(signed), credential(&e)).map_err(refused(state, signed, operation, &e.id))?;
    Ok(e)
}

/// The endpoint `signed` may change with `operation`: the role first (an auditor learns
/// nothing), then the endpoint.
async fn changeable(
    state: &AppState,
    signed: &SignedIn,
    id: &str,
    operation: &'static str,
) -> Result<EndpointView, ConsoleError> {
    policy::write(signed.operator.role, Page::Webhooks).map_err(refused(
        state,
        signed,
        operation,
        shaped("whe", id),
    ))?;
    let e = endpoints::get(&state.db, id).await.map_err(service_error)?;
    policy::change(who(signed), credential(&e))
        .map_err(refused(state, signed, operation, &e.id))?;
    Ok(e)
}

/// What the create and change forms hold, as typed.
#[derive(Debug, Default)]
struct Draft {
    url: String,
    description: String,
    events: Vec<String>,
    environment: Option<shared::Environment>,
}

impl Draft {
    fn of(form: &Form) -> Draft {
        let text = |name| form.get(name).ok().flatten().unwrap_or("").to_owned();
        Draft {
            url: text("url"),
            description: text("description"),
            events: form.all("events"),
            environment: form
                .get("environment")
                .ok()
                .flatten()
                .and_then(|e| e.parse().ok()),
        }
    }

    fn of_endpoint(e: &EndpointView) -> Draft {
        Draft {
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.clone(),
            environment: Some(e.environment),
        }
    }
}

fn event_checkboxes(checked: &[String]) -> Markup {
    html! {
        fieldset .scopes {
            legend { "Events" }
            @for t in EVENT_TYPES {
                @let id = format!("event-{}", t.replace(['.', '_'], "-"));
                div .checkbox {
                    input type="checkbox" name="events" value=(t) id=(id)
                        checked[checked.iter().any(|c| c == t)];
                    label for=(id) { code { (t) } }
                }
            }
        }
    }
}

fn fields(draft: &Draft) -> Markup {
    html! {
        div .field {
            label for="webhook-url" { "URL (https for live; never a private address)" }
            input type="url" name="url" id="webhook-url" required maxlength="2048" value=(draft.url);
        }
        div .field {
            label for="webhook-description" { "Description" }
            textarea name="description" id="webhook-description" maxlength="500" { (draft.description) }
        }
        (event_checkboxes(&draft.events))
    }
}

fn status_text(e: &EndpointView) -> &'static str {
    match (e.enabled, e.disabled_reason.is_some()) {
        (true, _) => "enabled",
        (false, true) => "disabled by the server",
        (false, false) => "disabled",
    }
}

/// `GET /console/webhooks?environment=`.
pub async fn list(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Webhooks).map_err(denied)?;
    let q = Form::query(&req)?;
    render_list(&state, &signed, &q, flash(&req), None).await
}

async fn render_list(
    state: &AppState,
    signed: &SignedIn,
    q: &Form,
    message: Markup,
    refused_draft: Option<(&Draft, &str)>,
) -> PageResult {
    let asked_env = q
        .optional("environment")?
        .map(parse_environment)
        .transpose()?;
    let scope = policy::list_scope(who(signed));
    let found = match scoped_environment(scope.environment, asked_env) {
        None => Vec::new(),
        Some(environment) => {
            let filter = EndpointFilter {
                environment: environment.map(|e| e.as_str().to_owned()),
                owner_id: scope.owner_id,
            };
            endpoints::list(&state.db, filter)
                .await
                .map_err(service_error)?
        }
    };
    let may_create = policy::write(signed.operator.role, Page::Webhooks).is_ok();
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
        h1 { "Webhooks" }
        (message)
        p .note { "Endpoints receive the events of their environment, signed with their secret (Standard Webhooks). The same endpoints are managed through " code { "/v2/webhook-endpoints" } "." }
        form #filter method="get" action=(LIST) {
            label for="filter-environment" { "Environment" }
            select name="environment" id="filter-environment" {
                option value="" selected[asked_env.is_none()] { "any" }
                option value="sandbox" selected[asked_env == Some(shared::Environment::Sandbox)] { "sandbox" }
                option value="live" selected[asked_env == Some(shared::Environment::Live)] { "live" }
            }
            button type="submit" { "Filter" }
        }
        div .table-wrap {
            table #webhooks .cards {
                caption { (found.len()) " endpoints" }
                thead { tr {
                    th scope="col" { "URL" } th scope="col" { "Environment" }
                    th scope="col" { "Events" } th scope="col" { "Status" }
                    th scope="col" { "Last success" }
                } }
                tbody {
                    @for e in &found {
                        tr data-id=(e.id) {
                            td data-label="URL" { a href=(detail_url(&e.id)) { (e.url) } }
                            td data-label="Environment" { (e.environment.as_str()) }
                            td data-label="Events" { (e.events.len()) " of " (EVENT_TYPES.len()) }
                            td data-label="Status" { (status_text(e)) }
                            td data-label="Last success" { (when(e.last_success_at.as_deref(), "never")) }
                        }
                    }
                }
            }
        }
        @if may_create {
            section aria-labelledby="create-heading" {
                h2 #create-heading { "New endpoint" }
                @if let Some(e) = error { (form_error(e)) }
                form #create-webhook method="post" action=(LIST) {
                    (csrf_field(signed))
                    (fields(draft))
                    div .field { (environment_select(signed, "webhook-environment", draft.environment)) }
                    button type="submit" { "Create endpoint" }
                }
            }
        }
    };
    Ok(page(status, signed, "Webhooks", body))
}

/// `POST /console/webhooks`: 303 to the page that shows the secret once. A refused form comes
/// back as typed, with the reason (400).
pub async fn create(state: web::Data<AppState>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let (state, signed, form) = (&state, &signed, &form);
    or_form_again(
        create_from(state, signed, form).await,
        |message| async move {
            let draft = Draft::of(form);
            let none = Form::from_pairs(Vec::new())?;
            render_list(state, signed, &none, html! {}, Some((&draft, &message))).await
        },
    )
    .await
}

async fn create_from(state: &AppState, signed: &SignedIn, form: &Form) -> PageResult {
    let refused_create = || refused(state, signed, "webhook_endpoint.create", "");
    policy::write(signed.operator.role, Page::Webhooks).map_err(refused_create())?;
    let environment = parse_environment(form.required("environment")?)?;
    policy::create(signed.operator.role, environment).map_err(refused_create())?;
    let now = now_micros();
    let new = NewEndpoint {
        environment,
        url: form.required("url")?.to_owned(),
        events: form.all("events"),
        description: form.get("description")?.unwrap_or("").to_owned(),
        owner_id: policy::owner_of_new(who(signed)),
    };
    let created = endpoints::create(
        &state.db,
        &signed.audit,
        &state.config.console.webhooks,
        new,
        now,
    )
    .await
    .map_err(service_error)?;
    let id = &created.endpoint.id;
    tracing::info!("webhook endpoint {id} created in the console");
    reveal(state, signed, "webhook_endpoint", id, &created.secret, now).await?;
    Ok(see_other(&format!("{}/created", detail_url(id))))
}

async fn reveal(
    state: &AppState,
    signed: &SignedIn,
    kind: &str,
    id: &str,
    secret: &str,
    now: i64,
) -> Result<(), ConsoleError> {
    let target = reveals::target(kind, id);
    reveals::stash(&state.db, &signed.session, &target, secret, now)
        .await
        .map_err(service_error)
}

/// `GET /console/webhooks/{id}/created` and `…/rotated`: the secret in full the first time.
async fn shown_once(
    signed: SignedIn,
    state: web::Data<AppState>,
    id: &str,
    kind: &str,
) -> PageResult {
    policy::page(signed.operator.role, Page::Webhooks).map_err(denied)?;
    let e = visible(&state, &signed, id, "webhook_endpoint.view").await?;
    let target = reveals::target(kind, &e.id);
    let secret = reveals::take(&state.db, &signed.session, &target, now_micros())
        .await
        .map_err(service_error)?;
    let (title, said) = match kind {
        "webhook_endpoint" => ("Endpoint created", "The endpoint was created."),
        _ => (
            "Secret rotated",
            "The secret was rotated; the previous one keeps signing beside it until the time shown.",
        ),
    };
    let body = html! {
        h1 { (title) }
        p #flash .flash.success role="status" { (said) }
        dl .fields {
            dt { "Id" } dd { code { (e.id) } }
            dt { "URL" } dd { (e.url) }
            dt { "Environment" } dd { (e.environment.as_str()) }
            dt { "Previous secret signs until" } dd { (when(e.previous_secret_expires_at.as_deref(), "—")) }
        }
        (secret_or_note("Signing secret", secret.as_ref(), LOST_SECRET))
        p { a href=(detail_url(&e.id)) { "The endpoint" } " · " a href=(LIST) { "All endpoints" } }
    };
    Ok(page(StatusCode::OK, &signed, title, body))
}

pub async fn created(signed: SignedIn, state: web::Data<AppState>, id: Path<String>) -> PageResult {
    shown_once(signed, state, &id, "webhook_endpoint").await
}

pub async fn rotated(signed: SignedIn, state: web::Data<AppState>, id: Path<String>) -> PageResult {
    shown_once(signed, state, &id, "webhook_endpoint_rotation").await
}

/// `GET /console/webhooks/{id}`.
pub async fn detail(
    req: HttpRequest,
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    policy::page(signed.operator.role, Page::Webhooks).map_err(denied)?;
    let e = visible(&state, &signed, &id, "webhook_endpoint.view").await?;
    render_detail(&state, &signed, &e, flash(&req), None).await
}

async fn render_detail(
    state: &AppState,
    signed: &SignedIn,
    e: &EndpointView,
    message: Markup,
    refused_draft: Option<(&Draft, &str)>,
) -> PageResult {
    let deliveries = endpoints::deliveries(&state.db, e)
        .await
        .map_err(service_error)?;
    let may_change = policy::change(who(signed), credential(e)).is_ok();
    let current = Draft::of_endpoint(e);
    let (draft, error) = match refused_draft {
        Some((d, m)) => (d, Some(m)),
        None => (&current, None),
    };
    let status = if refused_draft.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let base = detail_url(&e.id);
    let body = html! {
        h1 { (e.url) }
        (message)
        dl .fields {
            dt { "Id" } dd { code { (e.id) } }
            dt { "Description" } dd { @if e.description.is_empty() { "—" } @else { (e.description) } }
            dt { "Environment" } dd { (e.environment.as_str()) }
            dt { "Events" } dd { ul .scope-list { @for t in &e.events { li { code { (t) } } } } }
            dt { "Status" } dd { (status_text(e)) @if let Some(r) = &e.disabled_reason { " (" (r) ")" } }
            dt { "Last success" } dd { (when(e.last_success_at.as_deref(), "never")) }
            dt { "Failing since" } dd { (when(e.failing_since.as_deref(), "—")) }
            dt { "Previous secret signs until" } dd { (when(e.previous_secret_expires_at.as_deref(), "—")) }
            dt { "Owner" } dd { (e.owner_id.as_deref().unwrap_or("ops-managed")) }
            dt { "Created" } dd { (when(Some(&e.created_at), "")) }
        }
        section aria-labelledby="deliveries-heading" {
            h2 #deliveries-heading { "Recent deliveries" }
            div .table-wrap {
                table #deliveries .cards {
                    caption { (deliveries.len()) " deliveries, newest first" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Type" }
                        th scope="col" { "Status" } th scope="col" { "Attempts" }
                        th scope="col" { "Last answer" } th scope="col" { "Last attempt" }
                    } }
                    tbody {
                        @for d in &deliveries {
                            tr data-id=(d.id) {
                                td data-label="Event" { code { (d.event_id) } }
                                td data-label="Type" { code { (d.event_type) } }
                                td data-label="Status" { (d.status) }
                                td data-label="Attempts" { (d.attempts) }
                                td data-label="Last answer" {
                                    @match (d.last_response_status, &d.last_error) {
                                        (Some(s), _) => { "HTTP " (s) },
                                        (None, Some(err)) => (err),
                                        (None, None) => "—",
                                    }
                                }
                                td data-label="Last attempt" { (when(d.last_attempt_at.map(shared::time::rfc3339).as_deref(), "not yet")) }
                            }
                        }
                    }
                }
            }
        }
        @if may_change {
            section aria-labelledby="change-heading" {
                h2 #change-heading { "Change" }
                @if let Some(m) = error { (form_error(m)) }
                form #change-webhook method="post" action=(format!("{base}/edit")) {
                    (csrf_field(signed))
                    // The version the form was rendered from: a change made meanwhile (through
                    // the API, or a worker disabling the endpoint) is a 409, not overwritten.
                    input type="hidden" name="version" value=(e.version);
                    (fields(draft))
                    button type="submit" { "Save changes" }
                }
            }
            section aria-labelledby="actions-heading" {
                h2 #actions-heading { "Actions" }
                @if e.enabled {
                    form method="post" action=(format!("{base}/disable")) {
                        (csrf_field(signed)) button type="submit" { "Disable" }
                    }
                } @else {
                    form method="post" action=(format!("{base}/enable")) {
                        (csrf_field(signed)) button type="submit" { "Enable" }
                    }
                }
                form #rotate-webhook method="post" action=(format!("{base}/rotate-secret")) {
                    (csrf_field(signed))
                    label for="grace" { "The previous secret keeps signing for" }
                    select name="grace_period_seconds" id="grace" {
                        option value="0" { "no time (stop now)" }
                        option value="3600" { "1 hour" }
                        option value=(DEFAULT_GRACE_SECS) selected { "24 hours" }
                        option value="604800" { "7 days" }
                    }
                    button type="submit" { "Rotate secret" }
                }
                form method="get" action=(format!("{base}/delete")) {
                    button type="submit" .danger { "Delete" }
                }
            }
        }
        p { a href=(LIST) { "All endpoints" } }
    };
    Ok(page(status, signed, "Webhook endpoint", body))
}

/// `POST /console/webhooks/{id}/edit`: url, events and description as the form gives them.
pub async fn edit(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let e = changeable(&state, &signed, &id, "webhook_endpoint.update").await?;
    let version: i64 = form
        .required("version")?
        .parse()
        .map_err(|_| bad_input("The form is out of date; reload the page."))?;
    let change = EndpointChange {
        url: Some(form.required("url")?.to_owned()),
        events: Some(form.all("events")),
        description: Some(form.get("description")?.unwrap_or("").to_owned()),
    };
    let settings = &state.config.console.webhooks;
    let now = now_micros();
    let saved = endpoints::update(
        &state.db,
        &signed.audit,
        settings,
        &e.id,
        version,
        change,
        now,
    )
    .await
    .map(|_| see_other(&format!("{}?done=webhook_changed", detail_url(&e.id))))
    .map_err(service_error);
    let (state, signed, form, e) = (&state, &signed, &form, &e);
    or_form_again(saved, |message| async move {
        let draft = Draft::of(form);
        render_detail(state, signed, e, html! {}, Some((&draft, &message))).await
    })
    .await
}

async fn set_enabled(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
    on: bool,
) -> PageResult {
    let (signed, _) = unpack(posted)?;
    let operation = if on {
        "webhook_endpoint.enable"
    } else {
        "webhook_endpoint.disable"
    };
    let e = changeable(&state, &signed, &id, operation).await?;
    endpoints::set_enabled(&state.db, &signed.audit, &e.id, on, now_micros())
        .await
        .map_err(service_error)?;
    let done = if on {
        "webhook_enabled"
    } else {
        "webhook_disabled"
    };
    Ok(see_other(&format!("{}?done={done}", detail_url(&e.id))))
}

pub async fn enable(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    set_enabled(state, id, posted, true).await
}

pub async fn disable(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    set_enabled(state, id, posted, false).await
}

/// `POST /console/webhooks/{id}/rotate-secret`: 303 to the page that shows the new secret once.
pub async fn rotate_secret(
    state: web::Data<AppState>,
    id: Path<String>,
    posted: Posted,
) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let e = changeable(&state, &signed, &id, "webhook_endpoint.rotate_secret").await?;
    let grace = form
        .optional("grace_period_seconds")?
        .map(|g| {
            g.parse::<u64>()
                .map_err(|_| bad_input("The grace period must be a number of seconds."))
        })
        .transpose()?;
    let now = now_micros();
    let rotated = endpoints::rotate_secret(
        &state.db,
        &signed.audit,
        &state.config.console.webhooks,
        &e.id,
        grace,
        now,
    )
    .await
    .map_err(service_error)?;
    tracing::info!("webhook endpoint {} secret rotated in the console", e.id);
    reveal(
        &state,
        &signed,
        "webhook_endpoint_rotation",
        &e.id,
        &rotated.secret,
        now,
    )
    .await?;
    Ok(see_other(&format!("{}/rotated", detail_url(&e.id))))
}

fn confirm_page(signed: &SignedIn, e: &EndpointView) -> HttpResponse {
    let body = html! {
        h1 { "Delete this endpoint?" }
        p .warning role="alert" {
            "No more events will be sent to " code { (e.url) } ", and its delivery log is deleted. This cannot be undone."
        }
        form #confirm method="post" action=(format!("{}/delete", detail_url(&e.id))) {
            (csrf_field(signed))
            input type="hidden" name="confirm" value="yes";
            button type="submit" .danger { "Confirm" }
        }
        p { a href=(detail_url(&e.id)) { "Cancel" } }
    };
    page(StatusCode::OK, signed, "Delete webhook endpoint", body)
}

/// `GET …/delete`: the confirmation step.
pub async fn confirm_delete(
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    let e = changeable(&state, &signed, &id, "webhook_endpoint.delete").await?;
    Ok(confirm_page(&signed, &e))
}

/// `POST …/delete`: deletes only with `confirm=yes`; without it, the confirmation page again.
pub async fn delete(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let e = changeable(&state, &signed, &id, "webhook_endpoint.delete").await?;
    if form.get("confirm")? != Some("yes") {
        return Ok(confirm_page(&signed, &e));
    }
    endpoints::delete(&state.db, &signed.audit, &e.id, now_micros())
        .await
        .map_err(service_error)?;
    tracing::info!("webhook endpoint {} deleted in the console", e.id);
    Ok(see_other(&format!("{LIST}?done=webhook_deleted")))
}
