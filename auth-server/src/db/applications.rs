//! `applications`: OAuth clients.

use diesel::prelude::*;
use shared::db::schema::applications;
use shared::db::{Backend, DbConnection};

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
    /// Tokens issued before this instant are refused ("revoke all tokens").
    pub tokens_not_before: Option<i64>,
    /// The previous secret ends at the first use of the new one (rotation without a grace
    /// period), at the latest at `previous_secret_expires_at`.
    pub previous_secret_until_used: bool,
    /// May introspect other clients' tokens (RFC 7662 §4).
    pub introspection: bool,
    /// The operator who created it in the console (developers own what they create); `None`
    /// for ops-managed applications.
    pub owner_id: Option<String>,
    /// When it was last issued a token (written in batches; may lag by the flush interval).
    pub last_token_at: Option<i64>,
    /// Disabled by an admin (console admin, admin API, CLI): only an admin may enable it again.
    pub disabled_by_admin: bool,
    /// RFC 7591 `token_endpoint_auth_method`: `client_secret_basic`, `client_secret_post` or
    /// `private_key_jwt` (then `secret_hash` is [`NO_SECRET`] and `jwks` holds its keys).
    pub token_endpoint_auth_method: String,
    /// The registered public keys (JSON text `{"keys": [...]}`) of a `private_key_jwt` client.
    pub jwks: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
}

/// The `secret_hash` of an application without a secret (`private_key_jwt`): neither a digest
/// nor a bcrypt hash, so no presented secret can ever match it.
pub const NO_SECRET: &str = "none:private_key_jwt";

/// Which applications a list shows. `None` leaves a dimension open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationFilter {
    pub environment: Option<String>,
    pub disabled: Option<bool>,
    pub owner_id: Option<String>,
}

/// A secret rotation, as decided from the row it read.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The current hash that was read; the rotation applies only while it is still current.
    pub expected: String,
    /// Whether the row's previous secret was waiting for the current one's first use.
    pub expected_until_used: bool,
    pub new_hash: String,
    /// The hash that keeps working after the rotation, and until when.
    pub previous: Option<(String, i64)>,
    /// The previous secret ends at the new one's first use.
    pub until_used: bool,
    pub revoke_tokens: bool,
    pub now: i64,
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
    pub disabled_by_admin: Option<bool>,
    pub introspection: Option<bool>,
    /// Tokens issued before this instant are refused: set by a disable, so that enabling again
    /// does not revive them.
    pub tokens_not_before: Option<Option<i64>>,
    /// A new key set (`private_key_jwt` rotation).
    pub jwks: Option<Option<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub dpop_bound_access_tokens: Option<bool>,
    pub updated_at: i64,
}

impl ApplicationRow {
    /// The hashes a presented secret may match at `now`: the current one, and the previous one
    /// while it is still valid.
    pub fn secret_candidates(&self, now: i64) -> impl Iterator<Item = &str> {
        let previous = match (&self.previous_secret_hash, self.previous_secret_expires_at) {
            (Some(prev), Some(until)) if until > now => Some(prev.as_str()),
            _ => None,
        };
        std::iter::once(self.secret_hash.as_str()).chain(previous)
    }

    pub fn insert(conn: &mut DbConnection, row: &ApplicationRow) -> QueryResult<usize> {
        diesel::insert_into(applications::table)
            .values(row)
            .execute(conn)
    }

    /// A live (not deleted) application. The token endpoint's one read per token: on the
    /// concrete backend (`shared::on_backend!`), so its statement is found by type.
    pub fn find(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<ApplicationRow>> {
        shared::on_backend!(conn, |c| applications::table
            .filter(applications::client_id.eq(client_id))
            .filter(applications::deleted_at.is_null())
            .select(ApplicationRow::as_select())
            .get_result(c)
            .optional())
    }

    pub fn list(
        conn: &mut DbConnection,
        filter: &ApplicationFilter,
    ) -> QueryResult<Vec<ApplicationRow>> {
        let mut query = applications::table
            .filter(applications::deleted_at.is_null())
            .into_boxed::<Backend>();
        if let Some(env) = &filter.environment {
            query = query.filter(applications::environment.eq(env.clone()));
        }
        if let Some(disabled) = filter.disabled {
            query = query.filter(applications::disabled.eq(disabled));
        }
        if let Some(owner) = &filter.owner_id {
            query = query.filter(applications::owner_id.eq(owner.clone()));
        }
        query
            .order((applications::created_at.desc(), applications::client_id))
            .select(ApplicationRow::as_select())
            .load(conn)
    }

    /// Client ids (not deleted) whose current or previous secret is still a bcrypt hash from
    /// before digests (`prefix` is the digest's), oldest first.
    pub fn with_legacy_secrets(conn: &mut DbConnection, prefix: &str) -> QueryResult<Vec<String>> {
        let pattern = format!("{prefix}%");
        applications::table
            .filter(applications::deleted_at.is_null())
            .filter(applications::secret_hash.ne(NO_SECRET))
            .filter(
                applications::secret_hash.not_like(pattern.clone()).or(
                    applications::previous_secret_hash
                        .is_not_null()
                        .and(applications::previous_secret_hash.not_like(pattern)),
                ),
            )
            .order((applications::created_at.asc(), applications::client_id))
            .select(applications::client_id)
            .load(conn)
    }

    /// Records the latest token issue of each application (never moves the instant back).
    pub fn touch_last_token(
        conn: &mut DbConnection,
        client_id: &str,
        at: i64,
    ) -> QueryResult<usize> {
        diesel::update(
            applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(
                    applications::last_token_at
                        .is_null()
                        .or(applications::last_token_at.lt(at)),
                ),
        )
        .set(applications::last_token_at.eq(Some(at)))
        .execute(conn)
    }

    /// Applies `changes`. With `owner_only`, only while the application is not disabled by an
    /// admin (a developer's change of their own application: 0 rows otherwise).
    pub fn update(
        conn: &mut DbConnection,
        client_id: &str,
        changes: &ApplicationChanges,
        owner_only: bool,
    ) -> QueryResult<usize> {
        let target = applications::table
            .filter(applications::client_id.eq(client_id))
            .filter(applications::deleted_at.is_null());
        if owner_only {
            diesel::update(target.filter(applications::disabled_by_admin.eq(false)))
                .set(changes)
                .execute(conn)
        } else {
            diesel::update(target).set(changes).execute(conn)
        }
    }

    /// Replaces the secret hash if the row is still as `rotation` read it (so that of two
    /// concurrent rotations the second finds 0 rows and answers 409 instead of silently
    /// invalidating the secret the first one handed out), and sets the previous secret.
    pub fn rotate_secret(
        conn: &mut DbConnection,
        client_id: &str,
        rotation: &Rotation,
    ) -> QueryResult<usize> {
        let target = applications::table
            .filter(applications::client_id.eq(client_id))
            .filter(applications::deleted_at.is_null())
            .filter(applications::secret_hash.eq(&rotation.expected))
            .filter(applications::previous_secret_until_used.eq(rotation.expected_until_used));
        let (previous_hash, previous_until) = match &rotation.previous {
            Some((hash, until)) => (Some(hash.clone()), Some(*until)),
            None => (None, None),
        };
        let updated = diesel::update(target)
            .set((
                applications::previous_secret_hash.eq(previous_hash),
                applications::previous_secret_expires_at.eq(previous_until),
                applications::previous_secret_until_used
                    .eq(rotation.until_used && rotation.previous.is_some()),
                applications::secret_hash.eq(&rotation.new_hash),
                applications::updated_at.eq(rotation.now),
            ))
            .execute(conn)?;
        if updated > 0 && rotation.revoke_tokens {
            Self::set_tokens_not_before(conn, client_id, rotation.now)?;
        }
        Ok(updated)
    }

    /// Ends the previous secret once the current one (`current`) has been used.
    pub fn end_previous_secret(
        conn: &mut DbConnection,
        client_id: &str,
        current: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(applications::secret_hash.eq(current))
                .filter(applications::previous_secret_until_used.eq(true)),
        )
        .set((
            applications::previous_secret_hash.eq(None::<String>),
            applications::previous_secret_expires_at.eq(None::<i64>),
            applications::previous_secret_until_used.eq(false),
        ))
        .execute(conn)
    }

    /// Replaces a hash by an equivalent one (a bcrypt hash from before digests by the digest of
    /// the same secret), only if the row still holds `old`.
    pub fn replace_secret_hash(
        conn: &mut DbConnection,
        client_id: &str,
        old: &str,
        new: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(applications::secret_hash.eq(old)),
        )
        .set(applications::secret_hash.eq(new))
        .execute(conn)
    }

    /// Every token issued before `at` is refused from now on. Never moves the instant back.
    pub fn set_tokens_not_before(
        conn: &mut DbConnection,
        client_id: &str,
        at: i64,
    ) -> QueryResult<usize> {
        diesel::update(
            applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(applications::deleted_at.is_null())
                .filter(
                    applications::tokens_not_before
                        .is_null()
                        .or(applications::tokens_not_before.lt(at)),
                ),
        )
        .set((
            applications::tokens_not_before.eq(Some(at)),
            applications::updated_at.eq(at),
        ))
        .execute(conn)
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
