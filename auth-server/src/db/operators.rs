//! `operators`: the people who sign in to `/console`. Passwords are stored as bcrypt of their
//! SHA-256 pre-hash (`service::secrets`), setup links as the SHA-256 of their token, TOTP
//! secrets sealed under the KEK (`crate::kek`). Nothing here is ever plaintext.

use diesel::prelude::*;
use shared::db::schema::{operator_sessions, operators};
use shared::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = operators)]
pub struct OperatorRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub setup_digest: Option<String>,
    pub setup_expires_at: Option<i64>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OperatorRow {
    pub fn insert(conn: &mut DbConnection, row: &OperatorRow) -> QueryResult<usize> {
        diesel::insert_into(operators::table)
            .values(row)
            .execute(conn)
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OperatorRow>> {
        operators::table
            .filter(operators::id.eq(id))
            .select(OperatorRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// `email` must already be normalised (trimmed, lowercased).
    pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<OperatorRow>> {
        operators::table
            .filter(operators::email.eq(email))
            .select(OperatorRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// The operator whose unexpired setup link has this digest.
    pub fn find_by_setup(
        conn: &mut DbConnection,
        digest: &str,
        now: i64,
    ) -> QueryResult<Option<OperatorRow>> {
        operators::table
            .filter(operators::setup_digest.eq(digest))
            .filter(operators::setup_expires_at.gt(now))
            .filter(operators::disabled.eq(false))
            .select(OperatorRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// Oldest first: the first admin at the top.
    pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<OperatorRow>> {
        operators::table
            .order((operators::created_at.asc(), operators::id.asc()))
            .select(OperatorRow::as_select())
            .load(conn)
    }

    pub fn set_password_hash(
        conn: &mut DbConnection,
        id: &str,
        hash: &str,
        now: i64,
    ) -> QueryResult<usize> {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set((
                operators::password_hash.eq(Some(hash)),
                operators::setup_digest.eq(None::<String>),
                operators::setup_expires_at.eq(None::<i64>),
                operators::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Replaces the password hash with one of the same password at another cost, only if it
    /// is still `old` (a password change in between wins). Sessions are untouched.
    pub fn replace_password_hash(
        conn: &mut DbConnection,
        id: &str,
        old: &str,
        new: &str,
        now: i64,
    ) -> QueryResult<usize> {
        diesel::update(
            operators::table
                .filter(operators::id.eq(id))
                .filter(operators::password_hash.eq(old)),
        )
        .set((
            operators::password_hash.eq(Some(new)),
            operators::updated_at.eq(now),
        ))
        .execute(conn)
    }

    /// Uses a setup link: sets the password only while the link's digest is still stored and
    /// unexpired, and forgets the digest in the same statement, so a link works once.
    pub fn complete_setup(
        conn: &mut DbConnection,
        digest: &str,
        hash: &str,
        now: i64,
    ) -> QueryResult<Option<String>> {
        let Some(id) = OperatorRow::find_by_setup(conn, digest, now)?.map(|r| r.id) else {
            return Ok(None);
        };
        let n = diesel::update(
            operators::table
                .filter(operators::id.eq(&id))
                .filter(operators::setup_digest.eq(digest)),
        )
        .set((
            operators::password_hash.eq(Some(hash)),
            operators::setup_digest.eq(None::<String>),
            operators::setup_expires_at.eq(None::<i64>),
            operators::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok((n == 1).then_some(id))
    }

    pub fn set_setup(
        conn: &mut DbConnection,
        id: &str,
        digest: &str,
        expires_at: i64,
        now: i64,
    ) -> QueryResult<usize> {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set((
                operators::setup_digest.eq(Some(digest)),
                operators::setup_expires_at.eq(Some(expires_at)),
                operators::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Admins that are not disabled.
    pub fn active_admins(conn: &mut DbConnection) -> QueryResult<i64> {
        operators::table
            .filter(operators::role.eq("admin"))
            .filter(operators::disabled.eq(false))
            .count()
            .get_result(conn)
    }

    pub fn set_role(conn: &mut DbConnection, id: &str, role: &str, now: i64) -> QueryResult<usize> {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set((operators::role.eq(role), operators::updated_at.eq(now)))
            .execute(conn)
    }

    pub fn set_disabled(
        conn: &mut DbConnection,
        id: &str,
        disabled: bool,
        now: i64,
    ) -> QueryResult<usize> {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set((
                operators::disabled.eq(disabled),
                operators::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Stores a new, not yet confirmed TOTP secret (sealed). Refused (0 rows) while TOTP is
    /// enabled: it must be disabled first.
    pub fn set_pending_totp(
        conn: &mut DbConnection,
        id: &str,
        sealed: &str,
        now: i64,
    ) -> QueryResult<usize> {
        diesel::update(
            operators::table
                .filter(operators::id.eq(id))
                .filter(operators::totp_enabled.eq(false)),
        )
        .set((
            operators::totp_secret.eq(Some(sealed)),
            operators::totp_last_step.eq(None::<i64>),
            operators::updated_at.eq(now),
        ))
        .execute(conn)
    }

    /// Records `step` as used, only if it is later than the last used one and the secret is
    /// still `sealed` (the one the code was checked against): of two requests with the same
    /// code, one wins. `enable` also turns TOTP on (enrolment confirmed).
    pub fn use_totp_step(
        conn: &mut DbConnection,
        id: &str,
        sealed: &str,
        step: i64,
        enable: bool,
        now: i64,
    ) -> QueryResult<bool> {
        let target = operators::table
            .filter(operators::id.eq(id))
            .filter(operators::totp_secret.eq(sealed))
            .filter(
                operators::totp_last_step
                    .is_null()
                    .or(operators::totp_last_step.lt(step)),
            );
        let n = if enable {
            diesel::update(target)
                .set((
                    operators::totp_last_step.eq(Some(step)),
                    operators::totp_enabled.eq(true),
                    operators::updated_at.eq(now),
                ))
                .execute(conn)?
        } else {
            diesel::update(target)
                .set(operators::totp_last_step.eq(Some(step)))
                .execute(conn)?
        };
        Ok(n == 1)
    }

    /// Every operator's id and stored TOTP secret (enrolled or pending), for re-sealing.
    pub fn sealed_totp_secrets(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
        operators::table
            .filter(operators::totp_secret.is_not_null())
            .select((operators::id, operators::totp_secret.assume_not_null()))
            .order(operators::id)
            .load(conn)
    }

    /// Replaces the stored form of a TOTP secret (the same secret, sealed under another KEK),
    /// only if it is still `old`: a secret replaced meanwhile (a new enrolment) is left alone.
    /// The used step and `updated_at` stay: nothing about the account changed.
    pub fn reseal_totp(
        conn: &mut DbConnection,
        id: &str,
        old: &str,
        sealed: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            operators::table
                .filter(operators::id.eq(id))
                .filter(operators::totp_secret.eq(old)),
        )
        .set(operators::totp_secret.eq(Some(sealed)))
        .execute(conn)
    }

    pub fn clear_totp(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set((
                operators::totp_secret.eq(None::<String>),
                operators::totp_enabled.eq(false),
                operators::totp_last_step.eq(None::<i64>),
                operators::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Ends every session of the operator.
    pub fn end_sessions(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(operator_sessions::table.filter(operator_sessions::operator_id.eq(id)))
            .execute(conn)
    }
}
