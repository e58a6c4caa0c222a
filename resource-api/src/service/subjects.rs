//! Subjects: people and entities under investigation, with a risk score computed by the rule in
//! `domain::risk` from their country, type and best watchlist match.

use serde::{Deserialize, Serialize};
use shared::db::Db;
use utoipa::ToSchema;

use super::idempotency::{self, Created, IdempotentRequest};
use super::versioned;
use crate::conditional::{IfMatch, Versioned};
use crate::db::records::SubjectRow;
use crate::db::Scoped;
use crate::domain::risk::{self, RiskInputs, RiskLevel};
use crate::domain::{self, new_id, plausible_id, Page, PageQuery, PageRequest};
use crate::error::{Error, Result};
use crate::service::watchlist::{best_matches, EntryType};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubject {
    pub subject_type: EntryType,
    pub name: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSubject {
    pub subject_type: Option<EntryType>,
    pub name: Option<String>,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectView {
    pub id: String,
    pub subject_type: String,
    pub name: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
    /// 0–100.
    pub risk_score: i32,
    /// `low`, `medium` or `high`.
    pub risk_level: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&SubjectRow> for SubjectView {
    fn from(r: &SubjectRow) -> Self {
        SubjectView {
            id: r.id.clone(),
            subject_type: r.subject_type.clone(),
            name: r.name.clone(),
            country: r.country.clone(),
            date_of_birth: r.date_of_birth.clone(),
            risk_score: r.risk_score,
            risk_level: r.risk_level.clone(),
            created_at: shared::time::rfc3339(r.created_at),
            updated_at: shared::time::rfc3339(r.updated_at),
        }
    }
}

fn check_id(id: &str) -> Result<()> {
    if plausible_id("subj", id) {
        Ok(())
    } else {
        Err(Error::NotFound("subject"))
    }
}

/// Recomputes the row's risk against the environment's watchlist (inside the transaction).
fn score_row(
    scoped: &Scoped,
    c: &mut shared::db::DbConnection,
    row: &mut SubjectRow,
) -> diesel::QueryResult<()> {
    let entries = scoped.all_watchlist(c)?;
    let best = best_matches(
        &entries,
        &row.name,
        row.country.as_deref(),
        row.date_of_birth.as_deref(),
        1,
    )
    .first()
    .map(|m| m.score);
    let score = risk::risk_score(&RiskInputs {
        subject_type_is_entity: row.subject_type == "entity",
        country: row.country.as_deref(),
        best_watchlist_score: best,
    });
    row.risk_score = i32::from(score);
    row.risk_level = RiskLevel::from_score(score).as_str().to_owned();
    Ok(())
}

fn versioned_view(row: &SubjectRow) -> Versioned<SubjectView> {
    Versioned::new(SubjectView::from(row), row.version)
}

pub async fn create(
    db: &Db,
    scoped: Scoped,
    input: CreateSubject,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Created<SubjectView>> {
    let today = shared::time::from_micros(now).date_naive();
    let draft = SubjectRow {
        id: new_id("subj"),
        environment: scoped.env().to_owned(),
        subject_type: input.subject_type.as_str().to_owned(),
        name: domain::text("name", &input.name, true, 300)?,
        country: input
            .country
            .as_deref()
            .map(|c| domain::country("country", c))
            .transpose()?,
        date_of_birth: input
            .date_of_birth
            .as_deref()
            .map(|d| domain::date_of_birth(d, today))
            .transpose()?,
        risk_score: 0,
        risk_level: "low".into(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    idempotency::create(db, idem, now, move |c| {
        let mut r = draft.clone();
        score_row(&scoped, c, &mut r)?;
        scoped.insert_subject(c, &r)?;
        Ok(versioned_view(&r))
    })
    .await
}

pub async fn get(db: &Db, scoped: Scoped, id: &str) -> Result<Versioned<SubjectView>> {
    check_id(id)?;
    let id = id.to_owned();
    let row = db
        .run(move |c| scoped.find_subject(c, &id))
        .await?
        .ok_or(Error::NotFound("subject"))?;
    Ok(versioned_view(&row))
}

pub async fn list(db: &Db, scoped: Scoped, q: PageQuery) -> Result<Page<SubjectView>> {
    let page = PageRequest::parse(&q)?;
    let (rows, total) = db.run(move |c| scoped.list_subjects(c, page)).await?;
    Ok(Page::new(
        rows.iter().map(SubjectView::from).collect(),
        page,
        total,
    ))
}

pub async fn patch(
    db: &Db,
    scoped: Scoped,
    id: &str,
    input: PatchSubject,
    if_match: IfMatch,
    now: i64,
) -> Result<Versioned<SubjectView>> {
    check_id(id)?;
    let today = shared::time::from_micros(now).date_naive();
    let name = input
        .name
        .as_deref()
        .map(|n| domain::text("name", n, true, 300))
        .transpose()?;
    let country = input
        .country
        .as_deref()
        .map(|c| domain::country("country", c))
        .transpose()?;
    let dob = input
        .date_of_birth
        .as_deref()
        .map(|d| domain::date_of_birth(d, today))
        .transpose()?;
    let subject_type = input.subject_type;
    let row = versioned::update(
        db,
        scoped,
        id,
        if_match,
        now,
        move |row: &mut SubjectRow, at, c| {
            if let Some(v) = &name {
                row.name = v.clone();
            }
            if let Some(v) = &country {
                row.country = Some(v.clone());
            }
            if let Some(v) = &dob {
                row.date_of_birth = Some(v.clone());
            }
            if let Some(v) = subject_type {
                row.subject_type = v.as_str().to_owned();
            }
            row.updated_at = at;
            score_row(&scoped, c, row)?;
            Ok(Some(()))
        },
        |_, (), _| Ok(()),
    )
    .await?;
    Ok(versioned_view(&row))
}
