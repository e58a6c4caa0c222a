//! `console_reveals`: a secret the console shows once, on the first GET after the POST that
//! made it (`service::reveals`). Rows are sealed, belong to one session (deleted with it by the
//! foreign key) and are purged once past `expires_at`.

use diesel::prelude::*;
use shared::db::schema::console_reveals;
use shared::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_reveals)]
pub struct RevealRow {
    pub session_digest: String,
    pub target: String,
    pub sealed: String,
    pub expires_at: i64,
}

impl RevealRow {
    /// Stores `row`, replacing an earlier one for the same session and target (a second
    /// rotation before the first answer was read: only the newest secret works anyway).
    pub fn put(conn: &mut DbConnection, row: &RevealRow) -> QueryResult<usize> {
        Self::delete(conn, &row.session_digest, &row.target)?;
        diesel::insert_into(console_reveals::table)
            .values(row)
            .execute(conn)
    }

    pub fn find(
        conn: &mut DbConnection,
        session_digest: &str,
        target: &str,
    ) -> QueryResult<Option<RevealRow>> {
        console_reveals::table
            .filter(console_reveals::session_digest.eq(session_digest))
            .filter(console_reveals::target.eq(target))
            .select(RevealRow::as_select())
            .get_result(conn)
            .optional()
    }

    pub fn delete(
        conn: &mut DbConnection,
        session_digest: &str,
        target: &str,
    ) -> QueryResult<usize> {
        diesel::delete(
            console_reveals::table
                .filter(console_reveals::session_digest.eq(session_digest))
                .filter(console_reveals::target.eq(target)),
        )
        .execute(conn)
    }

    /// Removes rows past their end (the periodic session purge).
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        diesel::delete(console_reveals::table.filter(console_reveals::expires_at.le(now)))
            .execute(conn)
    }
}
