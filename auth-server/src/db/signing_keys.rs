//! `signing_keys`: the server's asymmetric keys, shared by every replica.

use diesel::prelude::*;
use shared::db::schema::signing_keys;
use shared::db::DbConnection;

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub private_key: String,
    pub public_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    /// Taken out of service by `keys revoke` (never published again).
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[REDACTED]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

impl SigningKeyRow {
    pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> QueryResult<usize> {
        diesel::insert_into(signing_keys::table)
            .values(row)
            .execute(conn)
    }

    /// Keys still worth publishing: active ones, and retired ones retired after `retired_after`;
    /// never a revoked one.
    pub fn published(
        conn: &mut DbConnection,
        retired_after: i64,
    ) -> QueryResult<Vec<SigningKeyRow>> {
        signing_keys::table
            .filter(signing_keys::revoked_at.is_null())
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(retired_after)),
            )
            .order((signing_keys::created_at.desc(), signing_keys::kid))
            .select(SigningKeyRow::as_select())
            .load(conn)
    }

    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<SigningKeyRow>> {
        signing_keys::table
            .order((signing_keys::created_at.desc(), signing_keys::kid))
            .select(SigningKeyRow::as_select())
            .load(conn)
    }

    pub fn find(conn: &mut DbConnection, kid: &str) -> QueryResult<Option<SigningKeyRow>> {
        signing_keys::table
            .find(kid)
            .select(SigningKeyRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// The kid of the newest active key. (Read once a refresh, not per token: `first` is fine.)
    #[allow(clippy::disallowed_methods)]
    pub fn active_kid(conn: &mut DbConnection) -> QueryResult<Option<String>> {
        signing_keys::table
            .filter(signing_keys::retired_at.is_null())
            .order((signing_keys::created_at.desc(), signing_keys::kid))
            .select(signing_keys::kid)
            .first(conn)
            .optional()
    }

    /// Replaces the stored private key only if it is still `old` (another replica may have
    /// re-sealed it already).
    pub fn replace_private_key(
        conn: &mut DbConnection,
        kid: &str,
        old: &str,
        new: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            signing_keys::table
                .filter(signing_keys::kid.eq(kid))
                .filter(signing_keys::private_key.eq(old)),
        )
        .set(signing_keys::private_key.eq(new))
        .execute(conn)
    }

    /// Takes a key out of service at `now`: revoked, and retired now unless it already was.
    pub fn revoke(conn: &mut DbConnection, kid: &str, now: i64) -> QueryResult<usize> {
        diesel::update(signing_keys::table.filter(signing_keys::kid.eq(kid)))
            .set((
                signing_keys::revoked_at.eq(Some(now)),
                signing_keys::retired_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
                >("COALESCE(retired_at, ")
                .bind::<diesel::sql_types::BigInt, _>(now)
                .sql(")")),
            ))
            .execute(conn)
    }

    /// Retires every active key except `keep`.
    pub fn retire_all_but(conn: &mut DbConnection, keep: &str, now: i64) -> QueryResult<usize> {
        diesel::update(
            signing_keys::table
                .filter(signing_keys::retired_at.is_null())
                .filter(signing_keys::kid.ne(keep)),
        )
        .set(signing_keys::retired_at.eq(Some(now)))
        .execute(conn)
    }
}
