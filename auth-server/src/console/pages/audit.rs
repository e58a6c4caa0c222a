//! `/console/audit`: the audit trail, newest first, filtered by actor, action, target and time
//! range and paginated by `before_seq`; `/console/audit/export` is the same filter as JSON
//! lines. Admins and auditors only.

use actix_web::http::{header, StatusCode};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use super::{bad_input, page, refused, service_error, Form};
use crate::console::policy::{self, Page};
use crate::console::{ConsoleError, SignedIn};
use crate::routes::AppState;
use crate::service::audit::{self, AuditEventView, AuditFilter};

type PageResult = Result<HttpResponse, ConsoleError>;

/// Events per page.
pub const PAGE_SIZE: i64 = 50;
const DAY_US: i64 = 24 * 3600 * 1_000_000;

/// The filter of the page and the export, as the query gives it (kept for the links).
struct Query {
    filter: AuditFilter,
    before_seq: Option<i64>,
    /// The filter fields as given, for the form and the links.
    actor: String,
    action: String,
    target: String,
    from: String,
    to: String,
}

fn text(q: &Form, name: &'static str) -> Result<String, ConsoleError> {
    let v = q.optional(name)?.unwrap_or("");
    shared::validate::text(name, v, false, 200).map_err(|e| bad_input(e.message))
}

/// A `YYYY-MM-DD` date as Unix microseconds at 00:00 UTC.
fn day_start(field: &str, value: &str) -> Result<i64, ConsoleError> {
    let d = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| bad_input(format!("{field} must be a date (YYYY-MM-DD).")))?;
    Ok(shared::time::to_micros(
        d.and_time(chrono::NaiveTime::MIN).and_utc(),
    ))
}

fn parse_query(req: &HttpRequest) -> Result<Query, ConsoleError> {
    let q = Form::query(req)?;
    let (actor, action, target) = (text(&q, "actor")?, text(&q, "action")?, text(&q, "target")?);
    let (from, to) = (text(&q, "from")?, text(&q, "to")?);
    let from_us = (!from.is_empty())
        .then(|| day_start("from", &from))
        .transpose()?;
    // `to` names a day, included: the filter's bound (exclusive) is the next midnight.
    let to_us = (!to.is_empty())
        .then(|| day_start("to", &to).map(|t| t + DAY_US))
        .transpose()?;
    if let (Some(f), Some(t)) = (from_us, to_us) {
        if f >= t {
            return Err(bad_input("from must not be after to."));
        }
    }
    let before_seq = q
        .optional("before_seq")?
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad_input("before_seq must be a positive whole number."))
        })
        .transpose()?;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(Query {
        filter: AuditFilter {
            actor: some(&actor),
            action: some(&action),
            target: some(&target),
            from: from_us,
            to: to_us,
        },
        before_seq,
        actor,
        action,
        target,
        from,
        to,
    })
}

impl Query {
    /// The filter as a query string (no `before_seq`).
    fn encoded(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("actor", self.actor.as_str()),
            ("action", self.action.as_str()),
            ("target", self.target.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

fn actor_of(e: &AuditEventView) -> String {
    if e.actor_label.is_empty() {
        format!("{} {}", e.actor_type, e.actor_id)
    } else {
        format!("{} ({})", e.actor_label, e.actor_id)
    }
}

/// `GET /console/audit?actor=&action=&target=&from=&to=&before_seq=`.
pub async fn list(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Audit).map_err(refused(
        &state,
        &signed,
        "audit.list",
        "",
    ))?;
    let q = parse_query(&req)?;
    let mut events = audit::list(&state.db, &q.filter, q.before_seq, PAGE_SIZE + 1)
        .await
        .map_err(service_error)?;
    let more = events.len() as i64 > PAGE_SIZE;
    events.truncate(PAGE_SIZE as usize);
    let encoded = q.encoded();
    let sep = if encoded.is_empty() { "" } else { "&" };
    let next = match (more, events.last()) {
        (true, Some(last)) => Some(format!(
            "/console/audit?{encoded}{sep}before_seq={}",
            last.seq
        )),
        _ => None,
    };
    let export = if encoded.is_empty() {
        "/console/audit/export".to_owned()
    } else {
        format!("/console/audit/export?{encoded}")
    };
    let body = html! {
        h1 { "Audit trail" }
        form #filter method="get" action="/console/audit" {
            div .field { label for="f-actor" { "Actor (operator id, admin-token, OS user)" }
                input type="text" name="actor" id="f-actor" maxlength="200" value=(q.actor); }
            div .field { label for="f-action" { "Action (e.g. api_key.create)" }
                input type="text" name="action" id="f-action" maxlength="200" value=(q.action); }
            div .field { label for="f-target" { "Target (app_…, key_…, op_…)" }
                input type="text" name="target" id="f-target" maxlength="200" value=(q.target); }
            div .field { label for="f-from" { "From (UTC day)" }
                input type="date" name="from" id="f-from" value=(q.from); }
            div .field { label for="f-to" { "To (UTC day, included)" }
                input type="date" name="to" id="f-to" value=(q.to); }
            button type="submit" { "Filter" }
        }
        p { a #export href=(export) download="audit-events.jsonl" { "Export these events (JSON lines)" } }
        div .table-wrap {
            table #audit-events {
                caption { "Events, newest first" }
                thead { tr {
                    th scope="col" .c-seq { "#" } th scope="col" .c-at { "At" }
                    th scope="col" .c-actor { "Actor" } th scope="col" .c-action { "Action" }
                    th scope="col" .c-target { "Target" } th scope="col" .c-source { "Source" }
                    th scope="col" .c-outcome { "Outcome" } th scope="col" .c-fields { "Fields" }
                } }
                tbody {
                    @for e in &events {
                        tr data-id=(e.seq) {
                            td { (e.seq) }
                            td .at { time datetime=(e.at) { (e.at) } }
                            td .actor { (actor_of(e)) }
                            td { code { (e.action) } }
                            td .target { code { (e.target) } }
                            td { (e.source.as_deref().unwrap_or("—")) }
                            td { (e.outcome) }
                            td .fields-cell { code .fields { (e.fields.to_string()) } }
                        }
                    }
                }
            }
        }
        @if events.is_empty() { p { "No events match." } }
        @if let Some(next) = next {
            nav aria-label="Pages" { a #next-page href=(next) { "Older events" } }
        }
    };
    Ok(page(StatusCode::OK, &signed, "Audit trail", body))
}

/// `GET /console/audit/export?…`: every event of the filter as JSON lines, oldest first (the
/// format of `GET /admin/audit-events/export` and `auth-server audit export`), streamed.
pub async fn export(req: HttpRequest, signed: SignedIn, state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Audit).map_err(refused(
        &state,
        &signed,
        "audit.export",
        "",
    ))?;
    let q = parse_query(&req)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"audit-events.jsonl\"",
        ))
        .content_type("application/x-ndjson")
        .streaming(audit::export(state.db.clone(), q.filter)))
}
