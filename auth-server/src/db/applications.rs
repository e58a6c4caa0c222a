//! `applications`: OAuth clients.

use diesel::prelude::*;
use shared::db::schema::applications;
use shared::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = applications)]
pub struct ApplicationRow {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub scopes: String,
    pub environment: String,
    pub tier: String,
    pub secret_hash: String,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub disabled: bool,
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields an admin may change. `None` leaves a field alone.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = applications)]
pub struct ApplicationChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<String>,
    pub tier: Option<String>,
    pub disabled: Option<bool>,
    pub updated_at: i64,
}

impl ApplicationRow {
    pub fn insert(conn: &mut DbConnection, row: &ApplicationRow) -> QueryResult<usize> {
        diesel::insert_into(applications::table)
            .values(row)
            .execute(conn)
    }

    /// A live (not deleted) application.
    pub fn find(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<ApplicationRow>> {
        applications::table
            .filter(applications::client_id.eq(client_id))
            .filter(applications::deleted_at.is_null())
            .select(ApplicationRow::as_select())
            .first(conn)
            .optional()
    }

    pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<ApplicationRow>> {
        applications::table
            .filter(applications::deleted_at.is_null())
            .order((applications::created_at.desc(), applications::client_id))
            .select(ApplicationRow::as_select())
            .load(conn)
    }

    pub fn update(
        conn: &mut DbConnection,
        client_id: &str,
        changes: &ApplicationChanges,
    ) -> QueryResult<usize> {
        diesel::update(
            applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(applications::deleted_at.is_null()),
        )
        .set(changes)
        .execute(conn)
    }

    /// Replaces the secret hash in one statement. With `grace_until`, the hash being replaced
    /// (read by the database itself, so concurrent rotations chain correctly) keeps working
    /// until then; without, it stops at once.
    pub fn rotate_secret(
        conn: &mut DbConnection,
        client_id: &str,
        new_hash: &str,
        grace_until: Option<i64>,
        now: i64,
    ) -> QueryResult<usize> {
        let target = applications::table
            .filter(applications::client_id.eq(client_id))
            .filter(applications::deleted_at.is_null());
        match grace_until {
            Some(until) => diesel::update(target)
                .set((
                    applications::previous_secret_hash.eq(applications::secret_hash.nullable()),
                    applications::previous_secret_expires_at.eq(Some(until)),
                    applications::secret_hash.eq(new_hash),
                    applications::updated_at.eq(now),
                ))
                .execute(conn),
            None => diesel::update(target)
                .set((
                    applications::previous_secret_hash.eq(None::<String>),
                    applications::previous_secret_expires_at.eq(None::<i64>),
                    applications::secret_hash.eq(new_hash),
                    applications::updated_at.eq(now),
                ))
                .execute(conn),
        }
    }

    pub fn soft_delete(conn: &mut DbConnection, client_id: &str, now: i64) -> QueryResult<usize> {
        diesel::update(
            applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(applications::deleted_at.is_null()),
        )
        .set((
            applications::deleted_at.eq(Some(now)),
            applications::disabled.eq(true),
            applications::updated_at.eq(now),
        ))
        .execute(conn)
    }
}
