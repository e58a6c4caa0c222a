//! Cases: create with a `CF-YYYY-NNNNNN` reference unique per environment, list with filters,
//! update, assign, close, and an audit trail of every change.

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shared::db::DbConnection;
use utoipa::ToSchema;

use super::idempotency::{Answer, Created, IdempotentRequest};
use super::records::{self, check_id, Record};
use crate::conditional::IfMatch;
use crate::db::cases::{CaseEventRow, CaseFilters, CaseRow};
use crate::db::{ids_from_json, ids_to_json, EnvDb, Scoped};
use crate::domain::{self, new_id, Page, PageRequest};
use crate::error::{Error, Result};
use crate::pagination::{list_name, Keyset, Lists};

pub use crate::domain::values::{CaseAction, CasePriority, CaseStatus};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    pub title: String,
    pub description: Option<String>,
    pub priority: Option<CasePriority>,
    pub assignee: Option<String>,
    pub subject_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCase {
    pub title: Option<String>,
    pub description: Option<String>,
    /// `open`, `in_review` or `escalated`; closing goes through `/close`.
    pub status: Option<CaseStatus>,
    pub priority: Option<CasePriority>,
    pub subject_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignCase {
    /// The investigator to assign; `null` unassigns.
    pub assignee: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseCase {
    pub resolution: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CaseQuery {
    // Parsed by `list` (an unknown value is 400 `invalid_query` naming the parameter), shown
    // in the document as the enum it must be.
    #[param(value_type = Option<CaseStatus>)]
    pub status: Option<String>,
    pub assignee: Option<String>,
    #[param(value_type = Option<CasePriority>)]
    pub priority: Option<String>,
    /// The page by number (1 when neither `page` nor `cursor` is sent). Not with `cursor`.
    pub page: Option<String>,
    /// Rows per page, 1–100: 20 when absent, or on a `cursor` request the size the cursor's
    /// walk used (a `page_size` sent with a cursor replaces it).
    pub page_size: Option<String>,
    /// `pagination.next_cursor` of the previous page (with the same filters), which carries
    /// its `page_size`; not with `page`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Case)]
pub struct CaseView {
    pub id: String,
    pub reference: String,
    pub title: String,
    pub description: String,
    pub status: CaseStatus,
    pub priority: CasePriority,
    #[schema(required = true)]
    pub assignee: Option<String>,
    pub subject_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    #[schema(required = true)]
    pub closed_at: Option<String>,
    #[schema(required = true)]
    pub resolution: Option<String>,
}

impl Record for CaseRow {
    type View = CaseView;

    fn into_view(self) -> CaseView {
        let r = self;
        CaseView {
            id: r.id,
            reference: r.reference,
            title: r.title,
            description: r.description,
            status: r.status,
            priority: r.priority,
            assignee: r.assignee,
            subject_ids: ids_from_json(&r.subject_ids),
            created_at: shared::time::rfc3339(r.created_at),
            updated_at: shared::time::rfc3339(r.updated_at),
            closed_at: r.closed_at.map(shared::time::rfc3339),
            resolution: r.resolution,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CaseEvent)]
pub struct CaseEventView {
    pub at: String,
    /// The client_id or API key id that made the change.
    pub actor: String,
    pub action: CaseAction,
    /// Changed fields: `{"field": {"from": …, "to": …}}`.
    #[schema(value_type = Object)]
    pub changes: Value,
}

fn assignee(value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(a) => {
            let a = domain::text("assignee", a, true, 200)?;
            Ok(Some(a))
        }
    }
}

fn event(
    scoped: &Scoped,
    case_id: &str,
    actor: &str,
    action: CaseAction,
    changes: Value,
    now: i64,
) -> CaseEventRow {
    CaseEventRow {
        id: new_id("evt"),
        case_id: case_id.to_owned(),
        environment: scoped.env().to_owned(),
        at: now,
        actor: actor.to_owned(),
        action,
        changes: changes.to_string(),
    }
}

/// Records `field` in `changes` when `from` and `to` differ.
fn diff(changes: &mut Map<String, Value>, field: &str, from: Value, to: Value) {
    if from != to {
        changes.insert(field.to_owned(), json!({ "from": from, "to": to }));
    }
}

pub async fn create(
    repo: &EnvDb,
    actor: &str,
    input: CreateCase,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Created<CaseView>> {
    let title = domain::text("title", &input.title, true, 300)?;
    let description = domain::text(
        "description",
        input.description.as_deref().unwrap_or(""),
        false,
        20_000,
    )?;
    let assignee = assignee(input.assignee.as_deref())?;
    let subject_ids = domain::subject_ids(input.subject_ids.as_deref().unwrap_or(&[]))?;
    let priority = input.priority.unwrap_or(CasePriority::Medium);
    let year = shared::time::from_micros(now).year();
    let actor = actor.to_owned();
    let ids = subject_ids.clone();
    records::create(
        repo,
        idem,
        now,
        move |scoped, c| {
            if scoped.count_subjects(c, &subject_ids)? != subject_ids.len() as i64 {
                return Err(Error::validation(
                    "subject_ids",
                    "every subject_id must name a subject in this environment",
                ));
            }
            let n = scoped.next_case_number(c, year)?;
            Ok(CaseRow {
                id: new_id("case"),
                environment: scoped.env().to_owned(),
                reference: format!("CF-{year}-{n:06}"),
                title: title.clone(),
                description: description.clone(),
                status: CaseStatus::Open,
                priority,
                assignee: assignee.clone(),
                subject_ids: ids_to_json(&subject_ids),
                resolution: None,
                created_at: now,
                updated_at: now,
                closed_at: None,
                version: 1,
            })
        },
        move |scoped, row, c| {
            let changes = json!({
                "title": {"from": null, "to": row.title},
                "status": {"from": null, "to": row.status},
                "priority": {"from": null, "to": row.priority},
                "assignee": {"from": null, "to": row.assignee},
                "subject_ids": {"from": null, "to": ids},
            });
            scoped.insert_event(
                c,
                &event(scoped, &row.id, &actor, CaseAction::Created, changes, now),
            )?;
            Ok(())
        },
    )
    .await
}

pub async fn list(repo: &EnvDb, lists: &Lists, q: CaseQuery) -> Result<Page<CaseView>> {
    let filters = CaseFilters {
        status: super::filter_of("status", &q.status, CaseStatus::NAMES)?,
        priority: super::filter_of("priority", &q.priority, CasePriority::NAMES)?,
        assignee: q
            .assignee
            .as_deref()
            .map(|a| {
                domain::text("assignee", a, true, 200).map_err(|_| {
                    Error::Query("`assignee` must be 1–200 characters of text.".into())
                })
            })
            .transpose()?,
    };
    let page = domain::PageQuery {
        page: q.page,
        page_size: q.page_size,
        cursor: q.cursor,
    };
    records::list::<CaseRow>(repo, lists, filters, &page).await
}

/// The change a request makes to a case: the action and the changed fields for its history
/// event, or `None` when nothing changes.
type CaseChange = Option<(CaseAction, Map<String, Value>)>;

/// Loads the case, checks `If-Match`, applies `change`, and saves the case and its history
/// event, all in one transaction (see `service::records::update`), so the two never disagree.
async fn modify<F>(
    repo: &EnvDb,
    actor: &str,
    id: &str,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
    change: F,
) -> Result<Answer<CaseView>>
where
    F: Fn(&mut CaseRow, &Scoped, i64, &mut DbConnection) -> Result<CaseChange>
        + Send
        + Sync
        + 'static,
{
    let actor = actor.to_owned();
    records::transition(
        repo,
        id,
        if_match,
        now,
        idem,
        move |row: &mut CaseRow, scoped, at, c| {
            let outcome = change(row, scoped, at, c)?;
            if outcome.is_some() {
                row.updated_at = at;
            }
            Ok(outcome)
        },
        move |scoped, row, (action, changes), c| {
            let at = row.updated_at;
            let e = event(scoped, &row.id, &actor, action, Value::Object(changes), at);
            scoped.insert_event(c, &e)?;
            Ok(())
        },
    )
    .await
}

/// A change to an existing case: `PATCH`, `/assign` or `/close`.
#[derive(Debug, Clone)]
pub enum CaseWrite {
    Patch(PatchCase),
    Assign(AssignCase),
    Close(CloseCase),
}

impl From<PatchCase> for CaseWrite {
    fn from(input: PatchCase) -> Self {
        CaseWrite::Patch(input)
    }
}

impl From<AssignCase> for CaseWrite {
    fn from(input: AssignCase) -> Self {
        CaseWrite::Assign(input)
    }
}

impl From<CloseCase> for CaseWrite {
    fn from(input: CloseCase) -> Self {
        CaseWrite::Close(input)
    }
}

/// Applies one [`CaseWrite`] by `actor`, with its history event (see [`modify`]); with `idem`,
/// answers the stored answer to the same request instead (`/assign` and `/close`).
pub async fn write(
    repo: &EnvDb,
    actor: &str,
    id: &str,
    write: CaseWrite,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Answer<CaseView>> {
    match write {
        CaseWrite::Patch(input) => patch(repo, actor, id, input, if_match, idem, now).await,
        CaseWrite::Assign(input) => assign(repo, actor, id, input, if_match, idem, now).await,
        CaseWrite::Close(input) => close(repo, actor, id, input, if_match, idem, now).await,
    }
}

fn ensure_open(row: &CaseRow) -> Result<()> {
    if row.status == CaseStatus::Closed {
        Err(Error::Conflict(
            "The case is closed and can no longer change.".into(),
        ))
    } else {
        Ok(())
    }
}

async fn patch(
    repo: &EnvDb,
    actor: &str,
    id: &str,
    input: PatchCase,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Answer<CaseView>> {
    let title = input
        .title
        .as_deref()
        .map(|t| domain::text("title", t, true, 300))
        .transpose()?;
    let description = input
        .description
        .as_deref()
        .map(|d| domain::text("description", d, false, 20_000))
        .transpose()?;
    if input.status == Some(CaseStatus::Closed) {
        return Err(Error::validation(
            "status",
            "close a case with POST /v2/cases/{id}/close and a resolution",
        ));
    }
    let subject_ids = input
        .subject_ids
        .as_deref()
        .map(domain::subject_ids)
        .transpose()?;
    let (status, priority) = (input.status, input.priority);
    modify(
        repo,
        actor,
        id,
        if_match,
        idem,
        now,
        move |row, scoped, _, c| {
            ensure_open(row)?;
            let mut changes = Map::new();
            if let Some(t) = &title {
                diff(&mut changes, "title", json!(row.title), json!(t));
                row.title = t.clone();
            }
            if let Some(d) = &description {
                diff(
                    &mut changes,
                    "description",
                    json!(row.description),
                    json!(d),
                );
                row.description = d.clone();
            }
            if let Some(s) = status {
                diff(&mut changes, "status", json!(row.status), json!(s));
                row.status = s;
            }
            if let Some(p) = priority {
                diff(&mut changes, "priority", json!(row.priority), json!(p));
                row.priority = p;
            }
            if let Some(ids) = &subject_ids {
                if scoped.count_subjects(c, ids)? != ids.len() as i64 {
                    return Err(Error::validation(
                        "subject_ids",
                        "every subject_id must name a subject in this environment",
                    ));
                }
                diff(
                    &mut changes,
                    "subject_ids",
                    json!(ids_from_json(&row.subject_ids)),
                    json!(ids),
                );
                row.subject_ids = ids_to_json(ids);
            }
            Ok((!changes.is_empty()).then_some((CaseAction::Updated, changes)))
        },
    )
    .await
}

async fn assign(
    repo: &EnvDb,
    actor: &str,
    id: &str,
    input: AssignCase,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Answer<CaseView>> {
    let new = assignee(input.assignee.as_deref())?;
    modify(repo, actor, id, if_match, idem, now, move |row, _, _, _| {
        ensure_open(row)?;
        let mut changes = Map::new();
        diff(&mut changes, "assignee", json!(row.assignee), json!(new));
        row.assignee = new.clone();
        Ok((!changes.is_empty()).then_some((CaseAction::Assigned, changes)))
    })
    .await
}

async fn close(
    repo: &EnvDb,
    actor: &str,
    id: &str,
    input: CloseCase,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Answer<CaseView>> {
    let resolution = domain::text("resolution", &input.resolution, true, 20_000)?;
    modify(
        repo,
        actor,
        id,
        if_match,
        idem,
        now,
        move |row, _, at, _| {
            if row.status == CaseStatus::Closed {
                return Err(Error::Conflict("The case is already closed.".into()));
            }
            let mut changes = Map::new();
            diff(
                &mut changes,
                "status",
                json!(row.status),
                json!(CaseStatus::Closed),
            );
            diff(
                &mut changes,
                "resolution",
                json!(row.resolution),
                json!(resolution),
            );
            row.status = CaseStatus::Closed;
            row.resolution = Some(resolution.clone());
            row.closed_at = Some(at);
            Ok(Some((CaseAction::Closed, changes)))
        },
    )
    .await
}

pub async fn history(
    repo: &EnvDb,
    lists: &Lists,
    id: &str,
    q: domain::PageQuery,
) -> Result<Page<CaseEventView>> {
    let (db, scoped) = (repo.db(), repo.scoped());
    check_id::<CaseRow>(id)?;
    let page = PageRequest::parse(&q, list_name("case_history", scoped.env(), id))?;
    let req = page.clone();
    let id = id.to_owned();
    let (rows, total) = lists
        .read(db, move |c, l| {
            if scoped.case_exists(c, &id)? {
                scoped.case_events(c, &id, &req, l)
            } else {
                Ok((Vec::new(), -1))
            }
        })
        .await?;
    if total < 0 {
        return Err(Error::NotFound("case"));
    }
    Ok(Page::from_rows(
        rows,
        &page,
        total,
        |e| Keyset::new(e.at, &e.id),
        |e| CaseEventView {
            at: shared::time::rfc3339(e.at),
            actor: e.actor,
            action: e.action,
            changes: serde_json::from_str(&e.changes).unwrap_or(Value::Null),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists an unknown value's error shows are exactly what serde accepts.
    #[test]
    fn enum_names_are_the_serde_values() {
        for name in CaseStatus::NAMES {
            let s: CaseStatus =
                super::super::filter_of("status", &Some(name.to_string()), CaseStatus::NAMES)
                    .unwrap()
                    .unwrap();
            assert_eq!(s.as_str(), *name);
        }
        for name in CasePriority::NAMES {
            let p: CasePriority =
                super::super::filter_of("priority", &Some(name.to_string()), CasePriority::NAMES)
                    .unwrap()
                    .unwrap();
            assert_eq!(p.as_str(), *name);
        }
        assert!(matches!(
            super::super::filter_of::<CaseStatus>(
                "status",
                &Some("pending".into()),
                CaseStatus::NAMES
            ),
            Err(Error::QueryValue {
                parameter: "status",
                ..
            })
        ));
    }
}
