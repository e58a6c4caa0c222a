//! `revoked_tokens`: `jti`s revoked before their expiry, read by the resource API.

use diesel::prelude::*;
use shared::db::schema::revoked_tokens;
use shared::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = revoked_tokens)]
pub struct RevokedTokenRow {
    pub jti: String,
    pub client_id: String,
    pub expires_at: i64,
    pub revoked_at: i64,
}

impl RevokedTokenRow {
    /// Records a revocation; revoking twice is not an error. True when this call recorded it.
    pub fn insert_if_absent(conn: &mut DbConnection, row: &RevokedTokenRow) -> QueryResult<bool> {
        if Self::is_revoked(conn, &row.jti)? {
            return Ok(false);
        }
        match diesel::insert_into(revoked_tokens::table)
            .values(row)
            .execute(conn)
        {
            Ok(n) => Ok(n > 0),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn is_revoked(conn: &mut DbConnection, jti: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)),
        ))
        .get_result(conn)
    }

    /// Drops rows whose tokens have expired anyway.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
            .execute(conn)
    }
}
