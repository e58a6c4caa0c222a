//! Subjects.

use diesel::prelude::*;
use shared::db::schema::subjects;
use shared::db::DbConnection;

use super::{versioned_row, Scoped};
use crate::domain::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = subjects, treat_none_as_null = true)]
pub struct SubjectRow {
    pub id: String,
    pub environment: String,
    pub subject_type: String,
    pub name: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
    pub risk_score: i32,
    pub risk_level: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Scoped {
    pub fn find_subject(
        &self,
        conn: &mut DbConnection,
        id: &str,
    ) -> QueryResult<Option<SubjectRow>> {
        subjects::table
            .filter(subjects::environment.eq(self.env()))
            .filter(subjects::id.eq(id))
            .select(SubjectRow::as_select())
            .first(conn)
            .optional()
    }

    /// How many of `ids` exist in this environment.
    pub fn count_subjects(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<i64> {
        if ids.is_empty() {
            return Ok(0);
        }
        subjects::table
            .filter(subjects::environment.eq(self.env()))
            .filter(subjects::id.eq_any(ids))
            .count()
            .get_result(conn)
    }

    pub fn list_subjects(
        &self,
        conn: &mut DbConnection,
        page: PageRequest,
    ) -> QueryResult<(Vec<SubjectRow>, i64)> {
        let total = subjects::table
            .filter(subjects::environment.eq(self.env()))
            .count()
            .get_result(conn)?;
        let rows = subjects::table
            .filter(subjects::environment.eq(self.env()))
            .order((subjects::created_at.desc(), subjects::id.desc()))
            .limit(page.page_size)
            .offset(page.offset())
            .select(SubjectRow::as_select())
            .load(conn)?;
        Ok((rows, total))
    }

    /// Inserts the subject in this environment, whatever `row.environment` says.
    pub fn insert_subject(&self, conn: &mut DbConnection, row: &SubjectRow) -> QueryResult<usize> {
        let row = SubjectRow {
            environment: self.env().to_owned(),
            ..row.clone()
        };
        diesel::insert_into(subjects::table)
            .values(&row)
            .execute(conn)
    }
}

versioned_row!(SubjectRow, subjects, "subject", find_subject);
