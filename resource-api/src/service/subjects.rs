//! Subjects: people and entities under investigation, with a risk score computed by the rule in
//! `domain::risk` from their country, type and best watchlist match.
//!
//! The watchlist match comes from the indexed screening path and is computed before the write,
//! with no database connection held while names are scored; the write then only stores it.

use serde::{Deserialize, Serialize};
use shared::db::Db;
use utoipa::ToSchema;

use super::idempotency::{Created, IdempotentRequest};
use super::records::{self, check_id, Record};
use crate::conditional::{IfMatch, Versioned};
use crate::db::subjects::SubjectRow;
use crate::db::{EnvDb, Scoped};
use crate::domain::risk::{self, RiskInputs, RiskLevel};
use crate::domain::{self, new_id, BirthDate, CountryCode};
use crate::error::{Error, Result};
use crate::service::watchlist::{self, best_score, EntryType, Scoring};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubject {
    pub subject_type: EntryType,
    /// At most 200 characters; screened against the watchlist.
    #[schema(max_length = 200)]
    pub name: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSubject {
    pub subject_type: Option<EntryType>,
    /// At most 200 characters; screened against the watchlist.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Subject)]
pub struct SubjectView {
    pub id: String,
    pub subject_type: EntryType,
    pub name: String,
    /// ISO 3166-1 alpha-2, upper-case.
    #[schema(required = true, inline)]
    pub country: Option<CountryCode>,
    /// YYYY-MM-DD.
    #[schema(required = true, inline)]
    pub date_of_birth: Option<BirthDate>,
    /// 0–100.
    pub risk_score: i32,
    pub risk_level: RiskLevel,
    pub created_at: String,
    pub updated_at: String,
}

impl Record for SubjectRow {
    type View = SubjectView;

    fn into_view(self) -> SubjectView {
        let r = self;
        SubjectView {
            id: r.id,
            subject_type: r.subject_type,
            name: r.name,
            country: r.country,
            date_of_birth: r.date_of_birth,
            risk_score: r.risk_score,
            risk_level: r.risk_level,
            created_at: shared::time::rfc3339(r.created_at),
            updated_at: shared::time::rfc3339(r.updated_at),
        }
    }
}

/// Sets the row's risk from its type, country and best watchlist score.
fn apply_risk(row: &mut SubjectRow, best_watchlist_score: Option<f64>) {
    let score = risk::risk_score(&RiskInputs {
        subject_type_is_entity: row.subject_type == EntryType::Entity,
        country: row.country.as_ref().map(CountryCode::as_str),
        best_watchlist_score,
    });
    row.risk_score = i32::from(score);
    row.risk_level = RiskLevel::from_score(score);
}

/// The best watchlist score of the row's name, country and date of birth.
async fn screen_row(
    scoring: &Scoring,
    db: &Db,
    scoped: Scoped,
    row: &SubjectRow,
) -> Result<Option<f64>> {
    best_score(
        scoring,
        db,
        scoped,
        &row.name,
        row.country.clone(),
        row.date_of_birth.clone(),
    )
    .await
}

/// What the watchlist score depends on.
fn screened_fields(row: &SubjectRow) -> (String, Option<CountryCode>, Option<BirthDate>) {
    (
        row.name.clone(),
        row.country.clone(),
        row.date_of_birth.clone(),
    )
}

/// How often a patch is re-screened when a concurrent patch changed the screened fields.
const PATCH_ATTEMPTS: usize = 3;

pub async fn create(
    repo: &EnvDb,
    scoring: &Scoring,
    input: CreateSubject,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Created<SubjectView>> {
    let (db, scoped) = (repo.db(), repo.scoped());
    let name = watchlist::name("name", &input.name)?;
    let (country, date_of_birth) = domain::country_and_birth(
        input.country.as_deref(),
        input.date_of_birth.as_deref(),
        now,
    )?;
    let draft = SubjectRow {
        id: new_id("subj"),
        environment: scoped.env().to_owned(),
        subject_type: input.subject_type,
        name,
        country,
        date_of_birth,
        risk_score: 0,
        risk_level: RiskLevel::Low,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    // Screened before the write, with no database connection held; the write only stores it.
    let mut row = draft;
    let best = screen_row(scoring, db, scoped, &row).await?;
    apply_risk(&mut row, best);
    records::create(
        repo,
        idem,
        now,
        move |_, _| Ok(row.clone()),
        |_, _, _| Ok(()),
    )
    .await
}

pub async fn patch(
    repo: &EnvDb,
    scoring: &Scoring,
    id: &str,
    input: PatchSubject,
    if_match: IfMatch,
    now: i64,
) -> Result<Versioned<SubjectView>> {
    let (db, scoped) = (repo.db(), repo.scoped());
    check_id::<SubjectRow>(id)?;
    let name = input
        .name
        .as_deref()
        .map(|n| watchlist::name("name", n))
        .transpose()?;
    let (country, dob) = domain::country_and_birth(
        input.country.as_deref(),
        input.date_of_birth.as_deref(),
        now,
    )?;
    let subject_type = input.subject_type;
    let apply = move |row: &mut SubjectRow, at: i64| {
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
            row.subject_type = v;
        }
        row.updated_at = at;
    };
    // Screen the patched subject first, with no connection held, then write it through the
    // versioned path: if a concurrent patch changed what was screened, screen again.
    for _ in 0..PATCH_ATTEMPTS {
        let mut draft = records::read::<SubjectRow>(repo, id).await?;
        apply(&mut draft, now);
        let best = screen_row(scoring, db, scoped, &draft).await?;
        let screened = screened_fields(&draft);
        let written = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let marker = written.clone();
        let apply = apply.clone();
        let row = records::update(
            repo,
            id,
            if_match.clone(),
            now,
            move |row: &mut SubjectRow, _, at, _| {
                apply(row, at);
                if screened_fields(row) != screened {
                    return Ok(None);
                }
                apply_risk(row, best);
                Ok(Some(()))
            },
            move |_, _, (), _| {
                marker.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            },
        )
        .await?;
        if written.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(records::versioned(row));
        }
    }
    Err(Error::RecordBusy(
        "The subject changed concurrently while it was being screened; retry.",
    ))
}
