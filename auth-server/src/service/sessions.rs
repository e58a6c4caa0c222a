//! Console sessions: a random 32-byte id (base64url, [`NewSecret::random_token`]) in a cookie;
//! only its digest ([`SecretDigest`]) is stored.
//!
//! A session ends at its absolute end (`CONSOLE_SESSION_MAX_SECS` after sign-in), after
//! `CONSOLE_SESSION_IDLE_SECS` without a request, at logout, and when its operator is disabled or
//! their password changes (both delete every session of the operator in the same transaction).
//! `last_seen_at` is written at most once per [`touch_interval`] (a minute, or a quarter of the
//! idle timeout when that is shorter), so a busy page costs no write per request, and a session
//! in use never reaches its idle end: it ends at least three quarters of the idle timeout after
//! its last request. Time is a parameter of every check.
//!
//! The CSRF token of a session is derived from its id (SHA-256 over a domain label and the
//! id), so it needs no storage and no other session shares it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::Connection;
use sha2::{Digest, Sha256};
use shared::db::Db;
use shared::{NewSecret, Secret, SecretDigest};

use super::audit::{self, AuditContext, AuditEvent, Feed};
use super::operators::OperatorView;
use crate::config::ConsoleConfig;
use crate::db::operators::OperatorRow;
use crate::db::sessions::SessionRow;
use crate::error::Result;

/// `last_seen_at` is refreshed at most this often…
pub const TOUCH_INTERVAL_US: i64 = 60 * 1_000_000;

/// …and at least four times per idle timeout: with `CONSOLE_SESSION_IDLE_SECS=60` a write once
/// a minute would let a session in use reach its idle end between two writes.
pub fn touch_interval(config: &ConsoleConfig) -> i64 {
    TOUCH_INTERVAL_US.min(secs_to_us(config.session_idle_secs) / 4)
}

/// The CSRF token of the session `session_id`.
pub fn csrf_token(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"caseforge console csrf\0");
    h.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// A live session, as the request extractor sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub operator: OperatorView,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// Starts a session for `operator_id`; returns the id for the cookie (shown nowhere else).
pub async fn create(
    db: &Db,
    config: &ConsoleConfig,
    ctx: &AuditContext,
    operator: &OperatorView,
    now: i64,
) -> Result<Secret> {
    let operator_id = operator.id.as_str();
    let (id, digest) = NewSecret::random_token().into_parts();
    let row = SessionRow {
        id_digest: digest.into_string(),
        operator_id: operator_id.to_owned(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + secs_to_us(config.session_max_secs),
        source: ctx.source.clone(),
    };
    let ctx = ctx.clone();
    let event = AuditEvent::success(
        "session.login",
        operator_id,
        serde_json::json!({ "email": operator.email }),
    );
    db.run(move |c| {
        c.transaction(|c| {
            SessionRow::insert(c, &row)?;
            audit::change(c, &ctx, Feed::TrailOnly, &event, now)
        })
    })
    .await?;
    Ok(id)
}

/// The live session with this id at `now`, or `None` (unknown, idle too long, past its end,
/// operator disabled). A dead session's row is deleted.
pub async fn lookup(
    db: &Db,
    config: &ConsoleConfig,
    session_id: &str,
    now: i64,
) -> Result<Option<Session>> {
    if session_id.len() != 43 {
        return Ok(None);
    }
    let digest = SecretDigest::of(session_id).into_string();
    let idle = secs_to_us(config.session_idle_secs);
    let touch_every = touch_interval(config);
    let found = db
        .run(move |c| {
            let Some((session, operator)) = SessionRow::find_with_operator(c, &digest)? else {
                return Ok(None);
            };
            let live =
                session.expires_at > now && session.last_seen_at + idle > now && !operator.disabled;
            if !live {
                SessionRow::delete(c, &digest)?;
                return Ok(None);
            }
            if now - session.last_seen_at >= touch_every {
                SessionRow::touch(c, &digest, now)?;
            }
            Ok(Some((session, operator)))
        })
        .await?;
    let Some((session, operator)) = found else {
        return Ok(None);
    };
    Ok(Some(Session {
        operator: OperatorView::from_row(&operator)?,
        csrf_token: csrf_token(session_id),
        expires_at: session.expires_at,
    }))
}

/// Ends the session (logout).
pub async fn end(db: &Db, ctx: &AuditContext, session_id: &str, now: i64) -> Result<()> {
    let digest = SecretDigest::of(session_id).into_string();
    let ctx = ctx.clone();
    db.run(move |c| {
        c.transaction(|c| {
            if let Some((session, _)) = SessionRow::find_with_operator(c, &digest)? {
                SessionRow::delete(c, &digest)?;
                let event = AuditEvent::success(
                    "session.logout",
                    &session.operator_id,
                    serde_json::json!({}),
                );
                audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}

/// Ends every session of an operator.
pub async fn end_all(db: &Db, operator_id: &str) -> Result<usize> {
    let id = operator_id.to_owned();
    Ok(db.run(move |c| OperatorRow::end_sessions(c, &id)).await?)
}

/// Deletes dead sessions (their waiting secrets go with them) and secrets no page took in
/// time (`service::reveals`): the periodic purge.
pub fn purge(
    c: &mut shared::db::DbConnection,
    config: &ConsoleConfig,
    now: i64,
) -> diesel::QueryResult<usize> {
    let sessions = SessionRow::purge_expired(c, now, now - secs_to_us(config.session_idle_secs))?;
    Ok(sessions + super::reveals::purge(c, now)?)
}

fn secs_to_us(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000) * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    use shared::random::random_token;

    #[test]
    fn session_ids_are_32_random_bytes_base64url() {
        let a = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_id() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_eq!(csrf_token(&a), csrf_token(&a));
        assert_ne!(csrf_token(&a), a);
    }
}
