//! Reads of the credential tables the auth server owns. The resource API only ever reads them,
//! except `api_keys.last_used_at`, which it writes in batches.

use diesel::prelude::*;
use shared::db::schema::{api_keys, applications, revoked_tokens, signing_keys};
use shared::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = applications)]
pub struct AppStatusRow {
    pub client_id: String,
    pub environment: String,
    pub scopes: String,
    pub tier: String,
    pub tokens_not_before: Option<i64>,
    pub disabled: bool,
    pub deleted_at: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRecordRow {
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
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = revoked_tokens)]
pub struct RevocationRow {
    pub jti: String,
    pub expires_at: i64,
    pub revoked_at: i64,
}

/// Every application (bounded by the number of applications, not of keys or tokens).
pub fn all_apps(conn: &mut DbConnection) -> QueryResult<Vec<AppStatusRow>> {
    applications::table
        .select(AppStatusRow::as_select())
        .load(conn)
}

pub fn apps_by_ids(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<AppStatusRow>> {
    applications::table
        .filter(applications::client_id.eq_any(ids))
        .select(AppStatusRow::as_select())
        .load(conn)
}

pub fn app(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<AppStatusRow>> {
    shared::on_backend!(conn, |c| applications::table
        .filter(applications::client_id.eq(client_id))
        .select(AppStatusRow::as_select())
        .get_result(c)
        .optional())
}

pub fn keys_by_digests(
    conn: &mut DbConnection,
    digests: &[String],
) -> QueryResult<Vec<ApiKeyRecordRow>> {
    api_keys::table
        .filter(api_keys::key_digest.eq_any(digests))
        .select(ApiKeyRecordRow::as_select())
        .load(conn)
}

pub fn key_by_digest(
    conn: &mut DbConnection,
    digest: &str,
) -> QueryResult<Option<ApiKeyRecordRow>> {
    // A key the cache has not seen (or has evicted): on the hot path with many keys.
    shared::on_backend!(conn, |c| api_keys::table
        .filter(api_keys::key_digest.eq(digest))
        .select(ApiKeyRecordRow::as_select())
        .get_result(c)
        .optional())
}

/// Revocations of tokens not yet expired at `now`.
pub fn live_revocations(conn: &mut DbConnection, now: i64) -> QueryResult<Vec<RevocationRow>> {
    revoked_tokens::table
        .filter(revoked_tokens::expires_at.gt(now))
        .select(RevocationRow::as_select())
        .load(conn)
}

pub fn revocations_by_jtis(
    conn: &mut DbConnection,
    jtis: &[String],
) -> QueryResult<Vec<RevocationRow>> {
    revoked_tokens::table
        .filter(revoked_tokens::jti.eq_any(jtis))
        .select(RevocationRow::as_select())
        .load(conn)
}

/// Signing keys no longer published: revoked, or retired at or before `retired_before` (the
/// kid is all this reads; the resource API never reads a private key).
pub fn unpublished_kids(conn: &mut DbConnection, retired_before: i64) -> QueryResult<Vec<String>> {
    signing_keys::table
        .filter(
            signing_keys::revoked_at
                .is_not_null()
                .or(signing_keys::retired_at.le(retired_before)),
        )
        .select(signing_keys::kid)
        .load(conn)
}

/// The console operator who owns application `client_id` of `environment`, if any.
pub fn app_owner(
    conn: &mut DbConnection,
    environment: &str,
    client_id: &str,
) -> QueryResult<Option<String>> {
    use shared::db::schema::applications;
    Ok(applications::table
        .filter(applications::client_id.eq(client_id))
        .filter(applications::environment.eq(environment))
        .select(applications::owner_id)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// The console operator who owns API key `id` of `environment`, if any.
pub fn key_owner(
    conn: &mut DbConnection,
    environment: &str,
    id: &str,
) -> QueryResult<Option<String>> {
    use shared::db::schema::api_keys;
    Ok(api_keys::table
        .filter(api_keys::id.eq(id))
        .filter(api_keys::environment.eq(environment))
        .select(api_keys::owner_id)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Records last use; never moves `last_used_at` backwards and never touches `updated_at`.
pub fn touch_last_used(conn: &mut DbConnection, id: &str, at: i64) -> QueryResult<usize> {
    diesel::update(
        api_keys::table.filter(api_keys::id.eq(id)).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(at)),
        ),
    )
    .set(api_keys::last_used_at.eq(Some(at)))
    .execute(conn)
}
