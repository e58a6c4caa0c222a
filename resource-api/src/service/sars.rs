//! Suspicious activity reports: drafts are editable; submitting freezes them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::idempotency::{Answer, Created, IdempotentRequest};
use super::records::{self, check_id, Record};
use crate::conditional::{IfMatch, Versioned};
use crate::db::sars::SarRow;
use crate::db::{ids_from_json, ids_to_json, EnvDb};
use crate::domain::values::SarStatus;
use crate::domain::{self, new_id, plausible_id, Amount, Currency};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSar {
    /// A case of the same environment.
    pub case_id: String,
    pub narrative: Option<String>,
    pub subject_ids: Option<Vec<String>>,
    /// Decimal string, e.g. "125000.50".
    pub amount: String,
    /// ISO 4217, e.g. "EUR".
    pub currency: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSar {
    pub narrative: Option<String>,
    pub subject_ids: Option<Vec<String>>,
    pub amount: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Sar)]
pub struct SarView {
    pub id: String,
    pub case_id: String,
    pub status: SarStatus,
    pub narrative: String,
    pub subject_ids: Vec<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub created_at: String,
    pub updated_at: String,
    #[schema(required = true)]
    pub submitted_at: Option<String>,
}

impl Record for SarRow {
    type View = SarView;

    fn into_view(self) -> SarView {
        let r = self;
        SarView {
            id: r.id,
            case_id: r.case_id,
            status: r.status,
            narrative: r.narrative,
            subject_ids: ids_from_json(&r.subject_ids),
            amount: r.amount,
            currency: r.currency,
            created_at: shared::time::rfc3339(r.created_at),
            updated_at: shared::time::rfc3339(r.updated_at),
            submitted_at: r.submitted_at.map(shared::time::rfc3339),
        }
    }
}

const SUBJECTS_MISSING: &str = "every subject_id must name a subject in this environment";

pub async fn create(
    repo: &EnvDb,
    input: CreateSar,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Created<SarView>> {
    if !plausible_id("case", &input.case_id) {
        return Err(Error::validation(
            "case_id",
            "case_id must name a case in this environment",
        ));
    }
    let row = SarRow {
        id: new_id("sar"),
        environment: repo.scoped().env().to_owned(),
        case_id: input.case_id.clone(),
        status: SarStatus::Draft,
        narrative: domain::text(
            "narrative",
            input.narrative.as_deref().unwrap_or(""),
            false,
            100_000,
        )?,
        subject_ids: ids_to_json(&domain::subject_ids(
            input.subject_ids.as_deref().unwrap_or(&[]),
        )?),
        amount: domain::amount(&input.amount)?,
        currency: domain::currency(&input.currency)?,
        created_at: now,
        updated_at: now,
        submitted_at: None,
        version: 1,
    };
    records::create(
        repo,
        idem,
        now,
        move |scoped, c| {
            if !scoped.case_exists(c, &row.case_id)? {
                return Err(Error::validation(
                    "case_id",
                    "case_id must name a case in this environment",
                ));
            }
            let ids = ids_from_json(&row.subject_ids);
            if scoped.count_subjects(c, &ids)? != ids.len() as i64 {
                return Err(Error::validation("subject_ids", SUBJECTS_MISSING));
            }
            Ok(row.clone())
        },
        |_, _, _| Ok(()),
    )
    .await
}

/// Edits a draft; a submitted SAR is immutable (409).
pub async fn patch(
    repo: &EnvDb,
    id: &str,
    input: PatchSar,
    if_match: IfMatch,
    now: i64,
) -> Result<Versioned<SarView>> {
    check_id::<SarRow>(id)?;
    let narrative = input
        .narrative
        .as_deref()
        .map(|n| domain::text("narrative", n, false, 100_000))
        .transpose()?;
    let subject_ids = input
        .subject_ids
        .as_deref()
        .map(domain::subject_ids)
        .transpose()?;
    let amount = input.amount.as_deref().map(domain::amount).transpose()?;
    let currency = input
        .currency
        .as_deref()
        .map(domain::currency)
        .transpose()?;
    let row = records::update(
        repo,
        id,
        if_match,
        now,
        move |row: &mut SarRow, scoped, at, c| {
            if row.status != SarStatus::Draft {
                return Err(Error::Conflict(
                    "Only draft SARs can be edited; this one was submitted.".into(),
                ));
            }
            if let Some(ids) = &subject_ids {
                if scoped.count_subjects(c, ids)? != ids.len() as i64 {
                    return Err(Error::validation("subject_ids", SUBJECTS_MISSING));
                }
                row.subject_ids = ids_to_json(ids);
            }
            if let Some(n) = &narrative {
                row.narrative = n.clone();
            }
            if let Some(a) = &amount {
                row.amount = a.clone();
            }
            if let Some(cur) = &currency {
                row.currency = cur.clone();
            }
            row.updated_at = at;
            Ok(Some(()))
        },
        |_, _, (), _| Ok(()),
    )
    .await?;
    Ok(records::versioned(row))
}

/// Draft → submitted for review. Submitting twice is a 409 `conflict`, unless the second
/// request repeats the first's `Idempotency-Key` (then it gets the first answer).
pub async fn submit(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Answer<SarView>> {
    records::transition(
        repo,
        id,
        if_match,
        now,
        idem,
        move |row: &mut SarRow, _, at, _| {
            if row.status != SarStatus::Draft {
                return Err(Error::Conflict("This SAR was already submitted.".into()));
            }
            if row.narrative.trim().is_empty() {
                return Err(Error::validation(
                    "narrative",
                    "a SAR needs a narrative before it is submitted",
                ));
            }
            row.status = SarStatus::Submitted;
            row.submitted_at = Some(at);
            row.updated_at = at;
            Ok(Some(()))
        },
        |_, _, (), _| Ok(()),
    )
    .await
}
