//! Suspicious activity reports.

use diesel::prelude::*;
use shared::db::schema::sars;
use shared::db::{Backend, DbConnection};

use super::keyset_list;
use super::{versioned_row, Scoped};
use crate::pagination::{Lists, PageRequest};

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
            .get_result(conn)
            .optional()
    }

    pub fn list_sars(
        &self,
        conn: &mut DbConnection,
        page: &PageRequest,
        lists: &Lists,
    ) -> QueryResult<(Vec<SarRow>, i64)> {
        let base = || {
            sars::table
                .filter(sars::environment.eq(self.env()))
                .into_boxed::<Backend>()
        };
        Ok(keyset_list!(
            conn,
            lists,
            page,
            base,
            sars::created_at,
            sars::id,
            SarRow,
            desc
        ))
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
