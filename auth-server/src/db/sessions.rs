//! `operator_sessions`: server-side console sessions. The cookie holds a random id; only its
//! SHA-256 (`id_digest`) is stored, so a copy of the table opens no session.

use diesel::prelude::*;
use shared::db::schema::{operator_sessions, operators};
use shared::db::DbConnection;

use super::operators::OperatorRow;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_sessions)]
pub struct SessionRow {
    pub id_digest: String,
    pub operator_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub source: Option<String>,
}

impl SessionRow {
    pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> QueryResult<usize> {
        diesel::insert_into(operator_sessions::table)
            .values(row)
            .execute(conn)
    }

    /// The session and its operator.
    pub fn find_with_operator(
        conn: &mut DbConnection,
        digest: &str,
    ) -> QueryResult<Option<(SessionRow, OperatorRow)>> {
        operator_sessions::table
            .inner_join(operators::table)
            .filter(operator_sessions::id_digest.eq(digest))
            .select((SessionRow::as_select(), OperatorRow::as_select()))
            .get_result(conn)
            .optional()
    }

    pub fn touch(conn: &mut DbConnection, digest: &str, now: i64) -> QueryResult<usize> {
        diesel::update(operator_sessions::table.filter(operator_sessions::id_digest.eq(digest)))
            .set(operator_sessions::last_seen_at.eq(now))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, digest: &str) -> QueryResult<usize> {
        diesel::delete(operator_sessions::table.filter(operator_sessions::id_digest.eq(digest)))
            .execute(conn)
    }

    /// Removes sessions past their absolute end or idle since before `idle_before`.
    pub fn purge_expired(
        conn: &mut DbConnection,
        now: i64,
        idle_before: i64,
    ) -> QueryResult<usize> {
        diesel::delete(
            operator_sessions::table.filter(
                operator_sessions::expires_at
                    .le(now)
                    .or(operator_sessions::last_seen_at.le(idle_before)),
            ),
        )
        .execute(conn)
    }
}
