//! Setup links: a one-time token (24 h, only its digest stored) with which a new operator, or
//! one who forgot their password, sets a password.

use super::*;

/// A setup link works this long.
pub const SETUP_LINK_LIFETIME_US: i64 = 24 * 3600 * 1_000_000;

/// The setup link for `token`.
pub fn setup_link(issuer: &str, token: &Secret) -> String {
    format!(
        "{}/console/setup?token={}",
        issuer.trim_end_matches('/'),
        token.expose()
    )
}

impl Operators {
    /// Uses a setup link: sets the first password. `Ok(None)`: unknown, used or expired link.
    pub async fn complete_setup(
        &self,
        db: &Db,
        token: &str,
        password: &Password,
        key: &AuditKey,
        source: Option<String>,
        now: i64,
    ) -> Result<Option<OperatorView>> {
        let digest = SecretDigest::of(token);
        // A link that names nothing is refused before any bcrypt work.
        let d = digest.as_str().to_owned();
        let Some(row) = db
            .run(move |c| OperatorRow::find_by_setup(c, &d, now))
            .await?
        else {
            return Ok(None);
        };
        let hash = self.hash(password).await?;
        let ctx = AuditContext::operator(key, &row.id, &row.email, source);
        let d = digest.as_str().to_owned();
        let done = db
            .run(move |c| {
                c.transaction(|c| {
                    let Some(id) = OperatorRow::complete_setup(c, &d, &hash, now)? else {
                        return Ok(None);
                    };
                    // A link made for a forgotten password ends the sessions the old one had.
                    OperatorRow::end_sessions(c, &id)?;
                    let event = AuditEvent::success("operator.setup", &id, serde_json::json!({}));
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                    OperatorRow::find(c, &id)
                })
            })
            .await?;
        done.as_ref().map(OperatorView::from_row).transpose()
    }
}

/// Whether `token` is a setup link that can still be used at `now`.
pub async fn setup_link_valid(db: &Db, token: &str, now: i64) -> Result<bool> {
    if token.len() != 43 {
        return Ok(false);
    }
    let digest = SecretDigest::of(token).into_string();
    Ok(db
        .run(move |c| OperatorRow::find_by_setup(c, &digest, now))
        .await?
        .is_some())
}

/// Makes a new setup link for an operator (e.g. a forgotten password); the old one stops working.
pub async fn new_setup_link(db: &Db, ctx: &AuditContext, id: &str, now: i64) -> Result<Secret> {
    let (token, digest) = NewSecret::random_token().into_parts();
    let digest = digest.into_string();
    let (id, ctx) = (id.to_owned(), ctx.clone());
    let n = db
        .run(move |c| {
            c.transaction(|c| {
                let n = OperatorRow::set_setup(c, &id, &digest, now + SETUP_LINK_LIFETIME_US, now)?;
                if n > 0 {
                    let event =
                        AuditEvent::success("operator.setup_link", &id, serde_json::json!({}));
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                }
                Ok(n)
            })
        })
        .await?;
    if n == 0 {
        return Err(Error::NotFound("operator"));
    }
    Ok(token)
}
