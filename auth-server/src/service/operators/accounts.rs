//! Operator accounts: create, list, role, disable (never the last admin), password and TOTP
//! resets; each change audited in its own transaction. Shared by the console and the CLI.

use super::*;

pub(super) async fn hash_bounded(
    limit: Option<&Semaphore>,
    password: &Password,
    cost: u32,
) -> Result<String> {
    let _permit = match limit {
        Some(s) => Some(
            s.acquire()
                .await
                .map_err(|_| Error::Internal("login hashing limiter closed".into()))?,
        ),
        None => None,
    };
    let secret = password.0.clone();
    actix_web::web::block(move || secrets::hash_secret(&secret, cost))
        .await
        .map_err(|_| Error::Internal("bcrypt task cancelled".into()))?
        .map_err(|e| Error::Internal(format!("bcrypt: {e}")))
}

pub(super) async fn find_row(db: &Db, id: &str) -> Result<OperatorRow> {
    let id = id.to_owned();
    db.run(move |c| OperatorRow::find(c, &id))
        .await?
        .ok_or(Error::NotFound("operator"))
}

pub(super) async fn store_password(
    db: &Db,
    ctx: &AuditContext,
    id: &str,
    hash: String,
    now: i64,
) -> Result<()> {
    let (id, ctx) = (id.to_owned(), ctx.clone());
    let n = db
        .run(move |c| {
            c.transaction(|c| {
                let n = OperatorRow::set_password_hash(c, &id, &hash, now)?;
                if n > 0 {
                    OperatorRow::end_sessions(c, &id)?;
                    let event =
                        AuditEvent::success("operator.set_password", &id, serde_json::json!({}));
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                }
                Ok(n)
            })
        })
        .await?;
    if n == 0 {
        return Err(Error::NotFound("operator"));
    }
    Ok(())
}

impl Operators {
    /// Changes the operator's own password after checking the current one; every session of
    /// the operator ends (the caller signs the browser in again). False: wrong current password.
    pub async fn change_password(
        &self,
        db: &Db,
        ctx: &AuditContext,
        operator_id: &str,
        current: &str,
        new: &Password,
        now: i64,
    ) -> Result<bool> {
        let row = find_row(db, operator_id).await?;
        if !self.check_current_password(&row, current).await? {
            return Ok(false);
        }
        let hash = self.hash(new).await?;
        store_password(db, ctx, &row.id, hash, now).await?;
        Ok(true)
    }

    /// [`create`], hashing the password under the login-hashing bound (the console's path).
    pub async fn create(
        &self,
        db: &Db,
        ctx: &AuditContext,
        email: Email,
        role: Role,
        password: Option<Password>,
        now: i64,
    ) -> Result<Created> {
        let hash = match &password {
            Some(p) => Some(self.hash(p).await?),
            None => None,
        };
        create_hashed(db, ctx, email, role, hash, now).await
    }

    /// [`set_password`] (an admin's reset), hashing under the bound; every session of the
    /// operator ends.
    pub async fn set_password(
        &self,
        db: &Db,
        ctx: &AuditContext,
        id: &str,
        password: &Password,
        now: i64,
    ) -> Result<()> {
        let hash = self.hash(password).await?;
        store_password(db, ctx, id, hash, now).await
    }
}

// --- operations shared by the console and the CLI -------------------------------------------

/// Creates an operator. With a password it can sign in at once; without one a setup link
/// (24 h, single use) is made, and only its digest stored. An email already taken is a
/// conflict. (The CLI's path; in the server, [`Operators::create`] hashes under the bound.)
pub async fn create(
    db: &Db,
    ctx: &AuditContext,
    email: Email,
    role: Role,
    password: Option<Password>,
    cost: u32,
    now: i64,
) -> Result<Created> {
    let password_hash = match &password {
        Some(p) => Some(hash_bounded(None, p, cost).await?),
        None => None,
    };
    create_hashed(db, ctx, email, role, password_hash, now).await
}

pub async fn list(db: &Db) -> Result<Vec<OperatorView>> {
    db.run(OperatorRow::list)
        .await?
        .iter()
        .map(OperatorView::from_row)
        .collect()
}

pub async fn get(db: &Db, id: &str) -> Result<OperatorView> {
    OperatorView::from_row(&find_row(db, id).await?)
}

pub async fn find_by_email(db: &Db, email: &Email) -> Result<OperatorView> {
    let email = email.as_str().to_owned();
    let row = db
        .run(move |c| OperatorRow::find_by_email(c, &email))
        .await?
        .ok_or(Error::NotFound("operator"))?;
    OperatorView::from_row(&row)
}

/// Sets an operator's password (an admin's reset); every session of theirs ends.
pub async fn set_password(
    db: &Db,
    ctx: &AuditContext,
    id: &str,
    password: &Password,
    cost: u32,
    now: i64,
) -> Result<()> {
    let hash = hash_bounded(None, password, cost).await?;
    store_password(db, ctx, id, hash, now).await
}

pub async fn set_role(
    db: &Db,
    ctx: &AuditContext,
    id: &str,
    role: Role,
    now: i64,
) -> Result<OperatorView> {
    change(db, ctx, id, now, move |c, id| {
        let admins = OperatorRow::active_admins(c)?;
        let n = OperatorRow::set_role(c, id, role.as_str(), now)?;
        keep_an_admin(c, admins)?;
        let event = AuditEvent::success(
            "operator.set_role",
            id,
            serde_json::json!({"role": role.as_str()}),
        );
        Ok((n, event))
    })
    .await
}

/// Disables (every session ends in the same transaction) or re-enables an operator.
pub async fn set_disabled(
    db: &Db,
    ctx: &AuditContext,
    id: &str,
    disabled: bool,
    now: i64,
) -> Result<OperatorView> {
    change(db, ctx, id, now, move |c, id| {
        let admins = OperatorRow::active_admins(c)?;
        let n = OperatorRow::set_disabled(c, id, disabled, now)?;
        if n > 0 && disabled {
            OperatorRow::end_sessions(c, id)?;
        }
        keep_an_admin(c, admins)?;
        let action = if disabled {
            "operator.disable"
        } else {
            "operator.enable"
        };
        Ok((n, AuditEvent::success(action, id, serde_json::json!({}))))
    })
    .await
}

/// Inside a change's transaction, after its update: rolls it back when it took the last active
/// admin away (`before`: active admins before the update). The writer lock ([`shared::changes::lock_writers`], taken by [`change`] before the
/// update) makes two admins demoting or disabling each other at once count one after the other,
/// so the second sees the first's change and is refused.
fn keep_an_admin(c: &mut shared::db::DbConnection, before: i64) -> diesel::QueryResult<()> {
    if before > 0 && OperatorRow::active_admins(c)? == 0 {
        return Err(diesel::result::Error::RollbackTransaction);
    }
    Ok(())
}

/// What a change that would leave no active admin answers.
const LAST_ADMIN: &str =
    "This is the last active admin: make another operator an admin first, so that someone can still manage the console.";

/// Clears an operator's TOTP (a lost authenticator, or one a thief bound): the next sign-in
/// asks only for the password, and every session of theirs ends in the same transaction. An
/// admin's console action and `auth-server operator reset-totp`; audited as
/// `operator.totp_reset`.
pub async fn reset_totp(db: &Db, ctx: &AuditContext, id: &str, now: i64) -> Result<OperatorView> {
    change(db, ctx, id, now, move |c, id| {
        let n = OperatorRow::clear_totp(c, id, now)?;
        if n > 0 {
            OperatorRow::end_sessions(c, id)?;
        }
        Ok((
            n,
            AuditEvent::success("operator.totp_reset", id, serde_json::json!({})),
        ))
    })
    .await
}

pub(super) async fn create_hashed(
    db: &Db,
    ctx: &AuditContext,
    email: Email,
    role: Role,
    password_hash: Option<String>,
    now: i64,
) -> Result<Created> {
    let setup = password_hash.is_none().then(NewSecret::random_token);
    let row = OperatorRow {
        id: format!("op_{}", crate::service::random_base62(22)),
        email: email.as_str().to_owned(),
        role: role.as_str().to_owned(),
        password_hash,
        setup_digest: setup.as_ref().map(|s| s.digest().as_str().to_owned()),
        setup_expires_at: setup.as_ref().map(|_| now + SETUP_LINK_LIFETIME_US),
        totp_secret: None,
        totp_enabled: false,
        totp_last_step: None,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let event = AuditEvent::success(
        "operator.create",
        &row.id,
        serde_json::json!({"email": row.email, "role": row.role}),
    );
    let (to_insert, ctx2) = (row.clone(), ctx.clone());
    let inserted = db
        .run(move |c| {
            c.transaction(|c| {
                if OperatorRow::find_by_email(c, &to_insert.email)?.is_some() {
                    return Ok(false);
                }
                OperatorRow::insert(c, &to_insert)?;
                audit::change(c, &ctx2, Feed::TrailOnly, &event, now)?;
                Ok(true)
            })
        })
        .await;
    // Of two concurrent creations with one email, the unique index refuses the second.
    let inserted = match inserted {
        Err(shared::db::DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => false,
        other => other?,
    };
    if !inserted {
        return Err(Error::Conflict(format!(
            "an operator with the email {} already exists",
            row.email
        )));
    }
    Ok(Created {
        operator: OperatorView::from_row(&row)?,
        setup_token: setup.map(|s| s.into_parts().0),
    })
}

/// One change to an operator row in a transaction: `update` returns the rows it changed and the
/// event describing it, recorded only when a row changed; no row is a 404.
pub(super) async fn change<F>(
    db: &Db,
    ctx: &AuditContext,
    id: &str,
    now: i64,
    update: F,
) -> Result<OperatorView>
where
    F: Fn(&mut shared::db::DbConnection, &str) -> diesel::QueryResult<(usize, AuditEvent)>
        + Send
        + 'static,
{
    let (id2, ctx) = (id.to_owned(), ctx.clone());
    let n = db
        .run(move |c| {
            c.transaction(|c| {
                shared::changes::lock_writers(c)?;
                let (n, event) = update(c, &id2)?;
                if n > 0 {
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                }
                Ok(n)
            })
        })
        .await;
    let n = match n {
        Err(shared::db::DbError::Query(diesel::result::Error::RollbackTransaction)) => {
            return Err(Error::Conflict(LAST_ADMIN.into()))
        }
        other => other?,
    };
    if n == 0 {
        return Err(Error::NotFound("operator"));
    }
    get(db, id).await
}
