//! Suspicious activity reports.

use diesel::prelude::*;
use shared::db::schema::sars;
use shared::db::DbConnection;

use super::{versioned_row, Scoped};
use crate::domain::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sars, treat_none_as_null = true)]
pub struct SarRow {
    pub id: String,
    pub environment: String,
    pub case_id: String,
    pub status: String,
    pub narrative: String,
    pub subject_ids: String,
    pub amount: String,
    pub currency: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    pub version: i64,
}

impl Scoped {
    pub fn find_sar(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<SarRow>> {
        sars::table
            .filter(sars::environment.eq(self.env()))
            .filter(sars::id.eq(id))
            .select(SarRow::as_select())
            .first(conn)
            .optional()
    }

    pub fn list_sars(
        &self,
        conn: &mut DbConnection,
        page: PageRequest,
    ) -> QueryResult<(Vec<SarRow>, i64)> {
        let total = sars::table
            .filter(sars::environment.eq(self.env()))
            .count()
            .get_result(conn)?;
        let rows = sars::table
            .filter(sars::environment.eq(self.env()))
            .order((sars::created_at.desc(), sars::id.desc()))
            .limit(page.page_size)
            .offset(page.offset())
            .select(SarRow::as_select())
            .load(conn)?;
        Ok((rows, total))
    }

    /// Inserts the SAR in this environment, whatever `row.environment` says.
    pub fn insert_sar(&self, conn: &mut DbConnection, row: &SarRow) -> QueryResult<usize> {
        let row = SarRow {
            environment: self.env().to_owned(),
            ..row.clone()
        };
        diesel::insert_into(sars::table).values(&row).execute(conn)
    }
}

versioned_row!(SarRow, sars, "SAR", find_sar);
