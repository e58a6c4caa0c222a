//! Cases, their reference counters and their audit trail.

use diesel::prelude::*;
use shared::db::schema::{case_events, cases};
use shared::db::{Backend, DbConnection};

use super::{keyset_list, versioned_row, Scoped};
use crate::domain::values::{CaseAction, CasePriority, CaseStatus};
use crate::pagination::{Lists, PageRequest};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = cases, treat_none_as_null = true)]
pub struct CaseRow {
    pub id: String,
    pub environment: String,
    pub reference: String,
    pub title: String,
    pub description: String,
    pub status: CaseStatus,
    pub priority: CasePriority,
    pub assignee: Option<String>,
    pub subject_ids: String,
    pub resolution: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    /// Bumped by every write; the record's `ETag`.
    pub version: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = case_events)]
pub struct CaseEventRow {
    pub id: String,
    pub case_id: String,
    pub environment: String,
    pub at: i64,
    pub actor: String,
    pub action: CaseAction,
    pub changes: String,
}

/// List filters, already validated.
#[derive(Debug, Clone, Default)]
pub struct CaseFilters {
    pub status: Option<CaseStatus>,
    pub assignee: Option<String>,
    pub priority: Option<CasePriority>,
}

impl Scoped {
    fn filtered_cases<'a>(&self, f: &'a CaseFilters) -> cases::BoxedQuery<'a, Backend> {
        let mut q = cases::table
            .filter(cases::environment.eq(self.env()))
            .into_boxed();
        if let Some(s) = &f.status {
            q = q.filter(cases::status.eq(s));
        }
        if let Some(a) = &f.assignee {
            q = q.filter(cases::assignee.eq(a));
        }
        if let Some(p) = &f.priority {
            q = q.filter(cases::priority.eq(p));
        }
        q
    }

    pub fn case_exists(&self, conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            cases::table
                .filter(cases::environment.eq(self.env()))
                .filter(cases::id.eq(id)),
        ))
        .get_result(conn)
    }

    /// Takes the next `CF-YYYY-NNNNNN` number of this environment and year. Call inside the
    /// transaction that inserts the case: the counter row's lock serialises concurrent creators.
    pub fn next_case_number(&self, conn: &mut DbConnection, year: i32) -> QueryResult<i64> {
        use shared::db::schema::case_reference_counters as c;
        // Both backends accept ON CONFLICT DO NOTHING. The values are an enum string and an
        // integer, never user input.
        diesel::sql_query(format!(
            "INSERT INTO case_reference_counters (environment, year, last_value) VALUES ('{}', {year}, 0) ON CONFLICT DO NOTHING",
            self.env()
        ))
        .execute(conn)?;
        diesel::update(
            c::table
                .filter(c::environment.eq(self.env()))
                .filter(c::year.eq(year)),
        )
        .set(c::last_value.eq(c::last_value + 1))
        .execute(conn)?;
        c::table
            .filter(c::environment.eq(self.env()))
            .filter(c::year.eq(year))
            .select(c::last_value)
            .get_result(conn)
    }

    /// Inserts the event in this environment, whatever `event.environment` says.
    pub fn insert_event(
        &self,
        conn: &mut DbConnection,
        event: &CaseEventRow,
    ) -> QueryResult<usize> {
        let event = CaseEventRow {
            environment: self.env().to_owned(),
            ..event.clone()
        };
        diesel::insert_into(case_events::table)
            .values(&event)
            .execute(conn)
    }

    pub fn case_events(
        &self,
        conn: &mut DbConnection,
        case_id: &str,
        page: &PageRequest,
        lists: &Lists,
    ) -> QueryResult<(Vec<CaseEventRow>, i64)> {
        let base = || {
            case_events::table
                .filter(case_events::environment.eq(self.env()))
                .filter(case_events::case_id.eq(case_id))
                .into_boxed::<Backend>()
        };
        Ok(keyset_list!(
            conn,
            lists,
            page,
            base,
            case_events::at,
            case_events::id,
            CaseEventRow,
            asc
        ))
    }
}

versioned_row!(
    CaseRow,
    cases,
    name = "case",
    prefix = "case",
    list = "cases",
    filters = CaseFilters,
    filtered = filtered_cases
);
