//! `/console/api-keys`: list (masked token, environment, scopes, tier, expiry, last use), create
//! (the key shown once, on the page the POST redirects to), detail, revoke with a confirmation
//! step.

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
use crate::service::api_keys::{self, ApiKeyFilter, ApiKeyView, CreateApiKey};
use crate::service::{now_micros, reveals};

type PageResult = Result<HttpResponse, ConsoleError>;

/// Keys expiring within this many days are highlighted.
pub const EXPIRY_WARNING_DAYS: i64 = 7;
const DAY_US: i64 = 24 * 3600 * 1_000_000;

fn credential(key: &ApiKeyView) -> Credential<'_> {
    Credential {
        environment: key.environment,
        owner_id: key.owner_id.as_deref(),
    }
}

fn detail_url(id: &str) -> String {
    format!("/console/api-keys/{id}")
}

/// How a key's expiry reads at `now`: the text, and whether it is soon (or past).
pub fn expiry(expires_at: Option<&str>, now: i64) -> (String, bool) {
    let Some(at) = expires_at else {
        return ("never".to_owned(), false);
    };
    let Some(t) = shared::time::parse_rfc3339(at) else {
        return (at.to_owned(), false);
    };
    if t <= now {
        return (format!("{at} (expired)"), true);
    }
    let days = (t - now) / DAY_US;
    if t - now <= EXPIRY_WARNING_DAYS * DAY_US {
        let left = match days {
            0 => "expires within a day".to_owned(),
            1 => "expires in 1 day".to_owned(),
            n => format!("expires in {n} days"),
        };
        return (format!("{at} ({left})"), true);
    }
    (at.to_owned(), false)
}

/// An expiry date (`YYYY-MM-DD`, a date input's value) as the end of that day, UTC, RFC 3339.
pub fn expiry_from_date(date: &str) -> Result<String, ConsoleError> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| bad_input("The expiry must be a date (YYYY-MM-DD)."))?;
    Ok(format!("{}T23:59:59Z", d.format("%Y-%m-%d")))
}

/// The key as `signed` may see it for `operation`: 404 when missing or not theirs (a refusal
/// the audit trail counts).
async fn visible(
    state: &AppState,
    signed: &SignedIn,
    id: &str,
    operation: &'static str,
) -> Result<ApiKeyView, ConsoleError> {
    let key = api_keys::get(&state.db, id).await.map_err(service_error)?;
    policy::view(who(signed), credential(&key))
        .map_err(refused(state, signed, operation, &key.id))?;
    Ok(key)
}

/// `GET /console/api-keys?environment=&status=active|revoked`.
pub async fn list(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::ApiKeys).map_err(denied)?;
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
    let revoked = q.status_flag("active", "revoked")?;
    let scope = policy::list_scope(who(signed));
    let keys = match scoped_environment(scope.environment, asked_env) {
        None => Vec::new(),
        Some(environment) => {
            let filter = ApiKeyFilter {
                environment,
                revoked,
                owner_id: scope.owner_id,
            };
            api_keys::list(&state.db, &filter)
                .await
                .map_err(service_error)?
        }
    };
    let now = now_micros();
    let may_create = policy::write(signed.operator.role, Page::ApiKeys).is_ok();
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
        h1 { "API keys" }
        (message)
        form #filter method="get" action="/console/api-keys" {
            label for="filter-environment" { "Environment" }
            select name="environment" id="filter-environment" {
                option value="" selected[asked_env.is_none()] { "any" }
                option value="sandbox" selected[asked_env == Some(shared::Environment::Sandbox)] { "sandbox" }
                option value="live" selected[asked_env == Some(shared::Environment::Live)] { "live" }
            }
            label for="filter-status" { "Status" }
            select name="status" id="filter-status" {
                option value="" selected[revoked.is_none()] { "any" }
                option value="active" selected[revoked == Some(false)] { "active" }
                option value="revoked" selected[revoked == Some(true)] { "revoked" }
            }
            button type="submit" { "Filter" }
        }
        div .table-wrap {
            table #api-keys .cards {
                caption { (keys.len()) " API keys" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Key" }
                    th scope="col" { "Environment" } th scope="col" { "Scopes" }
                    th scope="col" { "Tier" } th scope="col" { "Expires" }
                    th scope="col" { "Last used" } th scope="col" { "Status" }
                    th scope="col" { span .visually-hidden { "Actions" } }
                } }
                tbody {
                    @for key in &keys {
                        @let (expires, soon) = expiry(key.expires_at.as_deref(), now);
                        tr data-id=(key.id) .expiring[soon && key.revoked_at.is_none()] {
                            td data-label="Name" { a href=(detail_url(&key.id)) { (key.name) } }
                            td data-label="Key" { code { (key.masked_token) } }
                            td data-label="Environment" { (key.environment.as_str()) }
                            td data-label="Scopes" { (scope_list(&key.scopes)) }
                            td data-label="Tier" { (key.tier.as_str()) }
                            td data-label="Expires" .expiry-soon[soon] {
                                @if soon { strong { "Expiring soon: " } }
                                (expires)
                            }
                            td data-label="Last used" { (when(key.last_used_at.as_deref(), "never")) }
                            td data-label="Status" { @if key.revoked_at.is_some() { "revoked" } @else { "active" } }
                            td {
                                @if key.revoked_at.is_none() && policy::change(who(signed), credential(key)).is_ok() {
                                    a .button href=(format!("{}/revoke", detail_url(&key.id))) {
                                        "Revoke" span .visually-hidden { " " (key.name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_create { (create_form(signed, draft, error)) }
    };
    Ok(page(status, signed, "API keys", body))
}

fn create_form(signed: &SignedIn, draft: &CredentialDraft, error: Option<&str>) -> Markup {
    html! {
        section aria-labelledby="create-heading" {
            h2 #create-heading { "New API key" }
            @if let Some(e) = error { (form_error(e)) }
            form #create-api-key method="post" action="/console/api-keys" {
                (csrf_field(signed))
                div .field {
                    label for="key-name" { "Name" }
                    input type="text" name="name" id="key-name" required maxlength="200" value=(draft.name);
                }
                div .field {
                    label for="key-description" { "Description" }
                    textarea name="description" id="key-description" maxlength="2000" { (draft.description) }
                }
                div .field { (environment_select(signed, "key-environment", draft.environment)) }
                (scope_checkboxes(&draft.scopes))
                div .field { (tier_select(signed, "key-tier", draft.tier)) }
                div .field {
                    label for="key-expiry" { "Expires on (optional, end of the day UTC)" }
                    input type="date" name="expires_on" id="key-expiry" value=(draft.expires_on);
                }
                button type="submit" { "Create API key" }
            }
        }
    }
}

/// `POST /console/api-keys`: 303 to the page that shows the key, once (post/redirect/get: a
/// reload never makes a second key). A refused form comes back filled in, with the reason (400).
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
    let refused_create = || refused(state, signed, "api_key.create", "");
    policy::write(signed.operator.role, Page::ApiKeys).map_err(refused_create())?;
    let environment = parse_environment(form.required("environment")?)?;
    policy::create(signed.operator.role, environment).map_err(refused_create())?;
    let now = now_micros();
    let input = CreateApiKey {
        name: form.required("name")?.to_owned(),
        description: form.get("description")?.map(str::to_owned),
        environment: environment.as_str().to_owned(),
        scopes: form.all("scopes"),
        tier: chosen_tier(state, signed, form, "api_key.create")?,
        expires_at: form
            .optional("expires_on")?
            .map(expiry_from_date)
            .transpose()?,
    };
    let mut new = input.validate(now).map_err(service_error)?;
    new.owner_id = policy::owner_of_new(who(signed));
    let created = api_keys::create(&state.db, &signed.audit, new, now)
        .await
        .map_err(service_error)?;
    let key = &created.api_key;
    tracing::info!("api key {} created in the console", key.id);
    let target = reveals::target("api_key", &key.id);
    reveals::stash(&state.db, &signed.session, &target, &created.key, now)
        .await
        .map_err(service_error)?;
    Ok(see_other(&format!("{}/created", detail_url(&key.id))))
}

/// `GET /console/api-keys/{id}/created`: the new key in full the first time, masked after (the
/// key waited for this page in the session).
pub async fn created(signed: SignedIn, state: web::Data<AppState>, id: Path<String>) -> PageResult {
    policy::page(signed.operator.role, Page::ApiKeys).map_err(denied)?;
    let key = visible(&state, &signed, &id, "api_key.view").await?;
    let target = reveals::target("api_key", &key.id);
    let secret = reveals::take(&state.db, &signed.session, &target, now_micros())
        .await
        .map_err(service_error)?;
    let body = html! {
        h1 { "API key created" }
        p #flash .flash.success role="status" { "The API key " strong { (key.name) } " was created." }
        dl .fields {
            dt { "Id" } dd { code { (key.id) } }
            dt { "Key" } dd { code { (key.masked_token) } }
            dt { "Environment" } dd { (key.environment.as_str()) }
            dt { "Expires" } dd { (when(key.expires_at.as_deref(), "never")) }
        }
        (secret_or_note("API key", secret.as_ref(), "The key was shown once, when this page was first opened, and cannot be shown again. If it was not stored, revoke it and create another."))
        p { a href="/console/api-keys" { "All API keys" } }
    };
    Ok(page(StatusCode::OK, &signed, "API key created", body))
}

/// `GET /console/api-keys/{id}`.
pub async fn detail(
    req: HttpRequest,
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    policy::page(signed.operator.role, Page::ApiKeys).map_err(denied)?;
    let key = visible(&state, &signed, &id, "api_key.view").await?;
    let (expires, soon) = expiry(key.expires_at.as_deref(), now_micros());
    let may_revoke =
        key.revoked_at.is_none() && policy::change(who(&signed), credential(&key)).is_ok();
    let body = html! {
        h1 { (key.name) }
        (flash(&req))
        dl .fields {
            dt { "Id" } dd { code { (key.id) } }
            dt { "Key" } dd { code { (key.masked_token) } }
            dt { "Description" } dd { @if key.description.is_empty() { "—" } @else { (key.description) } }
            dt { "Environment" } dd { (key.environment.as_str()) }
            dt { "Scopes" } dd { (scope_list(&key.scopes)) }
            dt { "Tier" } dd { (key.tier.as_str()) }
            dt { "Expires" } dd .expiry-soon[soon] { @if soon { strong { "Expiring soon: " } } (expires) }
            dt { "Last used" } dd { (when(key.last_used_at.as_deref(), "never")) }
            dt { "Revoked" } dd { (when(key.revoked_at.as_deref(), "no")) }
            dt { "Owner" } dd { (key.owner_id.as_deref().unwrap_or("ops-managed")) }
            dt { "Created" } dd { (when(Some(&key.created_at), "")) }
        }
        @if may_revoke {
            form method="get" action=(format!("{}/revoke", detail_url(&key.id))) {
                button type="submit" .danger { "Revoke" }
            }
        }
        p { a href="/console/api-keys" { "All API keys" } }
    };
    Ok(page(StatusCode::OK, &signed, &key.name, body))
}

fn confirm_page(signed: &SignedIn, key: &ApiKeyView) -> HttpResponse {
    let body = html! {
        h1 { "Revoke " (key.name) "?" }
        p .warning role="alert" {
            "Every request with " code { (key.masked_token) } " will be refused within seconds. This cannot be undone."
        }
        form #confirm method="post" action=(format!("{}/revoke", detail_url(&key.id))) {
            (csrf_field(signed))
            input type="hidden" name="confirm" value="yes";
            button type="submit" .danger { "Confirm" }
        }
        p { a href="/console/api-keys" { "Cancel" } }
    };
    page(StatusCode::OK, signed, "Revoke API key", body)
}

/// `GET …/revoke`: the confirmation step.
pub async fn confirm_revoke(
    signed: SignedIn,
    state: web::Data<AppState>,
    id: Path<String>,
) -> PageResult {
    let operation = "api_key.revoke";
    policy::write(signed.operator.role, Page::ApiKeys).map_err(refused(
        &state,
        &signed,
        operation,
        shaped("key", &id),
    ))?;
    let key = visible(&state, &signed, &id, operation).await?;
    policy::change(who(&signed), credential(&key))
        .map_err(refused(&state, &signed, operation, &key.id))?;
    Ok(confirm_page(&signed, &key))
}

/// `POST …/revoke`: revokes only with `confirm=yes`; without it, the confirmation page again.
pub async fn revoke(state: web::Data<AppState>, id: Path<String>, posted: Posted) -> PageResult {
    let (signed, form) = unpack(posted)?;
    let operation = "api_key.revoke";
    policy::write(signed.operator.role, Page::ApiKeys).map_err(refused(
        &state,
        &signed,
        operation,
        shaped("key", &id),
    ))?;
    let key = api_keys::get(&state.db, &id).await.map_err(service_error)?;
    policy::change(who(&signed), credential(&key))
        .map_err(refused(&state, &signed, operation, &key.id))?;
    if form.get("confirm")? != Some("yes") {
        return Ok(confirm_page(&signed, &key));
    }
    api_keys::revoke(&state.db, &signed.audit, &key.id, now_micros())
        .await
        .map_err(service_error)?;
    tracing::info!("api key {} revoked in the console", key.id);
    Ok(see_other("/console/api-keys?done=revoked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_within_a_week_is_flagged_in_words() {
        let now = shared::time::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(expiry(None, now), ("never".into(), false));
        let (text, soon) = expiry(Some("2026-12-04T00:00:00Z"), now);
        assert!(soon && text.contains("expires in 3 days"), "{text}");
        let (text, soon) = expiry(Some("2026-11-30T00:00:00Z"), now);
        assert!(soon && text.contains("expired"), "{text}");
        let (text, soon) = expiry(Some("2026-12-20T00:00:00Z"), now);
        assert!(!soon && !text.contains("expires"), "{text}");
    }

    #[test]
    fn expiry_dates_end_the_day_and_refuse_other_shapes() {
        assert_eq!(
            expiry_from_date("2027-01-31").unwrap(),
            "2027-01-31T23:59:59Z"
        );
        assert!(expiry_from_date("2027-02-30").is_err());
        assert!(expiry_from_date("tomorrow").is_err());
    }
}
