//! `api_keys`: static bearer keys. Only the SHA-256 digest of a key is stored.

use diesel::prelude::*;
use shared::db::schema::api_keys;
use shared::db::{Backend, DbConnection};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub environment: String,
    pub scopes: String,
    pub tier: String,
    pub key_digest: String,
    pub masked_token: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The operator who created it in the console; `None` for ops-managed keys.
    pub owner_id: Option<String>,
}

/// Which keys a list shows. `None` leaves a dimension open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyFilter {
    pub environment: Option<String>,
    /// `Some(true)`: revoked only; `Some(false)`: not revoked only.
    pub revoked: Option<bool>,
    pub owner_id: Option<String>,
}

impl ApiKeyRow {
    pub fn insert(conn: &mut DbConnection, row: &ApiKeyRow) -> QueryResult<usize> {
        diesel::insert_into(api_keys::table)
            .values(row)
            .execute(conn)
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiKeyRow>> {
        api_keys::table
            .filter(api_keys::id.eq(id))
            .select(ApiKeyRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// Newest first.
    pub fn list(conn: &mut DbConnection, filter: &ApiKeyFilter) -> QueryResult<Vec<ApiKeyRow>> {
        let mut query = api_keys::table.into_boxed::<Backend>();
        if let Some(env) = &filter.environment {
            query = query.filter(api_keys::environment.eq(env.clone()));
        }
        match filter.revoked {
            Some(true) => query = query.filter(api_keys::revoked_at.is_not_null()),
            Some(false) => query = query.filter(api_keys::revoked_at.is_null()),
            None => {}
        }
        if let Some(owner) = &filter.owner_id {
            query = query.filter(api_keys::owner_id.eq(owner.clone()));
        }
        query
            .order((api_keys::created_at.desc(), api_keys::id.desc()))
            .select(ApiKeyRow::as_select())
            .load(conn)
    }

    /// Marks the key revoked (idempotent: the first revocation time is kept).
    pub fn revoke(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
        diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set((
            api_keys::revoked_at.eq(Some(now)),
            api_keys::updated_at.eq(now),
        ))
        .execute(conn)
    }
}
