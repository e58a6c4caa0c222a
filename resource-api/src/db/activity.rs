//! Transactions and alerts (read-only).

use diesel::prelude::*;
use shared::db::schema::{alerts, transactions};
use shared::db::Backend;

use super::{listed, Scoped};
use crate::domain::values::{AlertSeverity, AlertStatus, Direction};
use crate::domain::{Amount, Currency};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = transactions)]
pub struct TransactionRow {
    pub id: String,
    pub environment: String,
    pub subject_id: String,
    pub amount: Amount,
    pub currency: Currency,
    pub direction: Direction,
    pub counterparty: String,
    pub description: String,
    pub occurred_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: String,
    pub environment: String,
    pub subject_id: String,
    pub transaction_id: Option<String>,
    pub alert_type: String,
    pub severity: AlertSeverity,
    pub status: AlertStatus,
    pub description: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct TransactionFilters {
    pub subject_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct AlertFilters {
    pub status: Option<AlertStatus>,
    pub severity: Option<AlertSeverity>,
    pub subject_id: Option<String>,
}

impl Scoped {
    fn filtered_transactions<'a>(
        &self,
        f: &'a TransactionFilters,
    ) -> transactions::BoxedQuery<'a, Backend> {
        let mut q = transactions::table
            .filter(transactions::environment.eq(self.env()))
            .into_boxed();
        if let Some(s) = &f.subject_id {
            q = q.filter(transactions::subject_id.eq(s));
        }
        if let Some(from) = f.from {
            q = q.filter(transactions::occurred_at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(transactions::occurred_at.le(to));
        }
        q
    }

    fn filtered_alerts<'a>(&self, f: &'a AlertFilters) -> alerts::BoxedQuery<'a, Backend> {
        let mut q = alerts::table
            .filter(alerts::environment.eq(self.env()))
            .into_boxed();
        if let Some(s) = &f.status {
            q = q.filter(alerts::status.eq(s));
        }
        if let Some(s) = &f.severity {
            q = q.filter(alerts::severity.eq(s));
        }
        if let Some(s) = &f.subject_id {
            q = q.filter(alerts::subject_id.eq(s));
        }
        q
    }
}

listed!(
    TransactionRow,
    transactions,
    "transactions",
    TransactionFilters,
    occurred_at,
    desc,
    |scoped, f| scoped.filtered_transactions(f)
);
listed!(
    AlertRow,
    alerts,
    "alerts",
    AlertFilters,
    created_at,
    desc,
    |scoped, f| scoped.filtered_alerts(f)
);
