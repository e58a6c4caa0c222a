//! Stored first answers of idempotent creates, per credential and `Idempotency-Key`.

use diesel::prelude::*;
use shared::db::schema::idempotency_keys;
use shared::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub credential_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub response_status: i32,
    pub response_body: String,
    pub response_etag: Option<String>,
    pub created_at: i64,
}

impl IdempotencyRow {
    /// The stored answer for (credential, key), if it was stored at or after `since`.
    pub fn find(
        conn: &mut DbConnection,
        credential_id: &str,
        key: &str,
        since: i64,
    ) -> QueryResult<Option<IdempotencyRow>> {
        idempotency_keys::table
            .filter(idempotency_keys::credential_id.eq(credential_id))
            .filter(idempotency_keys::idempotency_key.eq(key))
            .filter(idempotency_keys::created_at.ge(since))
            .select(IdempotencyRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// Inserts the answer; a concurrent request with the same key that committed first makes
    /// this a unique violation (on PostgreSQL after waiting for that transaction).
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(idempotency_keys::table)
            .values(self)
            .execute(conn)
    }

    /// Removes every answer stored before `before` (an index range on `created_at`).
    pub fn purge(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
            .execute(conn)
    }
}
