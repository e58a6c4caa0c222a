//! Subjects.

use diesel::prelude::*;
use shared::db::schema::subjects;
use shared::db::{Backend, DbConnection};

use super::keyset_list;
use super::{versioned_row, Scoped};
use crate::pagination::{Lists, PageRequest};

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
            .get_result(conn)
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
        page: &PageRequest,
        lists: &Lists,
    ) -> QueryResult<(Vec<SubjectRow>, i64)> {
        let base = || {
            subjects::table
                .filter(subjects::environment.eq(self.env()))
                .into_boxed::<Backend>()
        };
        Ok(keyset_list!(
            conn,
            lists,
            page,
            base,
            subjects::created_at,
            subjects::id,
            SubjectRow,
            desc
        ))
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
