//! Suspicious activity reports.

use super::versioned_row;
use crate::domain::values::SarStatus;
use crate::domain::{Amount, Currency};
use diesel::prelude::*;
use shared::db::schema::sars;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sars, treat_none_as_null = true)]
pub struct SarRow {
    pub id: String,
    pub environment: String,
    pub case_id: String,
    pub status: SarStatus,
    pub narrative: String,
    pub subject_ids: String,
    pub amount: Amount,
    pub currency: Currency,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    pub version: i64,
}

versioned_row!(SarRow, sars, name = "SAR", prefix = "sar", list = "sars");
