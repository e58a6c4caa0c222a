//! Subjects.

use diesel::prelude::*;
use shared::db::schema::subjects;
use shared::db::DbConnection;

use super::{versioned_row, Scoped};
use crate::domain::risk::RiskLevel;
use crate::domain::values::EntryType;
use crate::domain::{BirthDate, CountryCode};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = subjects, treat_none_as_null = true)]
pub struct SubjectRow {
    pub id: String,
    pub environment: String,
    pub subject_type: EntryType,
    pub name: String,
    pub country: Option<CountryCode>,
    pub date_of_birth: Option<BirthDate>,
    pub risk_score: i32,
    pub risk_level: RiskLevel,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Scoped {
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
}

versioned_row!(
    SubjectRow,
    subjects,
    name = "subject",
    prefix = "subj",
    list = "subjects"
);
