//! Transactions and alerts: read-only listings (seeded in sandbox).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::activity::{AlertFilters, AlertRow, TransactionFilters, TransactionRow};
use crate::db::EnvDb;
use crate::domain::{plausible_id, Page, PageQuery, PageRequest};
use crate::error::{Error, Result};
use crate::pagination::{list_name, Keyset, Lists};

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TransactionQuery {
    pub subject_id: Option<String>,
    /// RFC 3339; transactions at or after.
    pub from: Option<String>,
    /// RFC 3339; transactions at or before.
    pub to: Option<String>,
    pub page: Option<String>,
    pub page_size: Option<String>,
    /// `pagination.next_cursor` of the previous page (with the same filters); not with `page`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub subject_id: Option<String>,
    pub page: Option<String>,
    pub page_size: Option<String>,
    /// `pagination.next_cursor` of the previous page (with the same filters); not with `page`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionView {
    pub id: String,
    pub subject_id: String,
    pub amount: String,
    pub currency: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub counterparty: String,
    pub description: String,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    pub subject_id: String,
    pub transaction_id: Option<String>,
    pub alert_type: String,
    pub severity: String,
    pub status: String,
    pub description: String,
    pub created_at: String,
}

impl From<&TransactionRow> for TransactionView {
    fn from(r: &TransactionRow) -> Self {
        TransactionView {
            id: r.id.clone(),
            subject_id: r.subject_id.clone(),
            amount: r.amount.clone(),
            currency: r.currency.clone(),
            direction: r.direction.clone(),
            counterparty: r.counterparty.clone(),
            description: r.description.clone(),
            occurred_at: shared::time::rfc3339(r.occurred_at),
        }
    }
}

impl From<&AlertRow> for AlertView {
    fn from(r: &AlertRow) -> Self {
        AlertView {
            id: r.id.clone(),
            subject_id: r.subject_id.clone(),
            transaction_id: r.transaction_id.clone(),
            alert_type: r.alert_type.clone(),
            severity: r.severity.clone(),
            status: r.status.clone(),
            description: r.description.clone(),
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

fn one_of(
    name: &'static str,
    v: &Option<String>,
    allowed: &'static [&'static str],
) -> Result<Option<String>> {
    match v {
        Some(s) if !allowed.contains(&s.as_str()) => Err(Error::QueryValue {
            parameter: name,
            allowed,
        }),
        other => Ok(other.clone()),
    }
}

pub async fn transactions(
    repo: &EnvDb,
    lists: &Lists,
    q: TransactionQuery,
) -> Result<Page<TransactionView>> {
    let (db, scoped) = (repo.db(), repo.scoped());
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
    let page = PageRequest::parse(
        &PageQuery {
            page: q.page.clone(),
            page_size: q.page_size.clone(),
            cursor: q.cursor.clone(),
        },
        list_name("transactions", scoped.env(), &f),
    )?;
    let req = page.clone();
    let (rows, total) = lists
        .read(db, move |c, l| scoped.list_transactions(c, &f, &req, l))
        .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        total,
        |r| Keyset::new(r.occurred_at, &r.id),
        |r| TransactionView::from(r),
    ))
}

pub async fn alerts(repo: &EnvDb, lists: &Lists, q: AlertQuery) -> Result<Page<AlertView>> {
    let (db, scoped) = (repo.db(), repo.scoped());
    let f = AlertFilters {
        status: one_of("status", &q.status, &["open", "closed"])?,
        severity: one_of(
            "severity",
            &q.severity,
            &["low", "medium", "high", "critical"],
        )?,
        subject_id: subject_param(&q.subject_id)?,
    };
    let page = PageRequest::parse(
        &PageQuery {
            page: q.page.clone(),
            page_size: q.page_size.clone(),
            cursor: q.cursor.clone(),
        },
        list_name("alerts", scoped.env(), &f),
    )?;
    let req = page.clone();
    let (rows, total) = lists
        .read(db, move |c, l| scoped.list_alerts(c, &f, &req, l))
        .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        total,
        |r| Keyset::new(r.created_at, &r.id),
        |r| AlertView::from(r),
    ))
}
