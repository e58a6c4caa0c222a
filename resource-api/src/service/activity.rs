//! Transactions and alerts: read-only listings (seeded in sandbox).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::{self, Record};
use crate::db::activity::{AlertFilters, AlertRow, TransactionFilters, TransactionRow};
use crate::db::EnvDb;
use crate::domain::values::{AlertSeverity, AlertStatus, Direction};
use crate::domain::{plausible_id, Amount, Currency, Page, PageQuery};
use crate::error::{Error, Result};
use crate::pagination::Lists;

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TransactionQuery {
    pub subject_id: Option<String>,
    /// RFC 3339; transactions at or after.
    pub from: Option<String>,
    /// RFC 3339; transactions at or before.
    pub to: Option<String>,
    /// The page by number (1 when neither `page` nor `cursor` is sent). Not with `cursor`.
    pub page: Option<String>,
    /// Rows per page, 1–100: 20 when absent, or on a `cursor` request the size the cursor's
    /// walk used (a `page_size` sent with a cursor replaces it).
    pub page_size: Option<String>,
    /// `pagination.next_cursor` of the previous page (with the same filters), which carries
    /// its `page_size`; not with `page`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    // Parsed by `alerts` (an unknown value is 400 `invalid_query` listing the valid ones),
    // shown in the document as the enum it must be.
    #[param(value_type = Option<AlertStatus>)]
    pub status: Option<String>,
    #[param(value_type = Option<AlertSeverity>)]
    pub severity: Option<String>,
    pub subject_id: Option<String>,
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
#[schema(as = Transaction)]
pub struct TransactionView {
    pub id: String,
    pub subject_id: String,
    pub amount: Amount,
    pub currency: Currency,
    pub direction: Direction,
    pub counterparty: String,
    pub description: String,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Alert)]
pub struct AlertView {
    pub id: String,
    pub subject_id: String,
    #[schema(required = true)]
    pub transaction_id: Option<String>,
    pub alert_type: String,
    pub severity: AlertSeverity,
    pub status: AlertStatus,
    pub description: String,
    pub created_at: String,
}

impl Record for TransactionRow {
    type View = TransactionView;

    fn into_view(self) -> TransactionView {
        let r = self;
        TransactionView {
            id: r.id,
            subject_id: r.subject_id,
            amount: r.amount,
            currency: r.currency,
            direction: r.direction,
            counterparty: r.counterparty,
            description: r.description,
            occurred_at: shared::time::rfc3339(r.occurred_at),
        }
    }
}

impl Record for AlertRow {
    type View = AlertView;

    fn into_view(self) -> AlertView {
        let r = self;
        AlertView {
            id: r.id,
            subject_id: r.subject_id,
            transaction_id: r.transaction_id,
            alert_type: r.alert_type,
            severity: r.severity,
            status: r.status,
            description: r.description,
            created_at: shared::time::rfc3339(r.created_at),
        }
    }
}

fn time_param(name: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_deref()
        .map(|s| {
            shared::time::parse_rfc3339(s)
                .ok_or_else(|| Error::Query(format!("`{name}` must be an RFC 3339 timestamp.")))
        })
        .transpose()
}

fn subject_param(v: &Option<String>) -> Result<Option<String>> {
    match v {
        Some(s) if !plausible_id("subj", s) => Err(Error::Query(
            "`subject_id` must be a subject id such as subj_….".into(),
        )),
        other => Ok(other.clone()),
    }
}

pub async fn transactions(
    repo: &EnvDb,
    lists: &Lists,
    q: TransactionQuery,
) -> Result<Page<TransactionView>> {
    let f = TransactionFilters {
        subject_id: subject_param(&q.subject_id)?,
        from: time_param("from", &q.from)?,
        to: time_param("to", &q.to)?,
    };
    if let (Some(a), Some(b)) = (f.from, f.to) {
        if a > b {
            return Err(Error::Query("`from` must not be after `to`.".into()));
        }
    }
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
        cursor: q.cursor,
    };
    records::list::<TransactionRow>(repo, lists, f, &page).await
}

pub async fn alerts(repo: &EnvDb, lists: &Lists, q: AlertQuery) -> Result<Page<AlertView>> {
    let f = AlertFilters {
        status: super::filter_of("status", &q.status, AlertStatus::NAMES)?,
        severity: super::filter_of("severity", &q.severity, AlertSeverity::NAMES)?,
        subject_id: subject_param(&q.subject_id)?,
    };
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
        cursor: q.cursor,
    };
    records::list::<AlertRow>(repo, lists, f, &page).await
}
