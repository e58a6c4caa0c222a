//! Secrets the console shows once, after a redirect (post/redirect/get).
//!
//! The POST that makes a client secret, an API key or a setup link answers 303 to a page of
//! its own (`…/created`, `…/rotated`); the secret waits here, tied to the session that made it,
//! and the first GET of that page takes it ([`take`] reads and deletes it in one transaction).
//! A reload then shows the credential without its secret, and never makes a second credential.
//! A secret is never in a URL, a log line or the audit trail.
//!
//! At rest a row is sealed (XChaCha20-Poly1305, the target as associated data) under a key
//! derived from the session's cookie value, which the database does not hold (it stores only
//! its SHA-256): the table alone opens nothing, and another session cannot read it even with
//! the target's name. A row lives at most [`REVEAL_TTL_US`] and is deleted with its session.
//! The key is not the KEK's, so a KEK rotation leaves waiting secrets readable.
//!
//! The credential and its waiting secret are written in two transactions: should the second
//! fail (the database gone between them), the POST answers an error page (503 when the
//! database is unavailable) and the credential exists without a shown secret — rotate it (or
//! revoke the key). Nothing half-written is ever shown.

use diesel::Connection;
use sha2::{Digest, Sha256};
use shared::db::Db;
use shared::Secret;

use crate::db::reveals::RevealRow;
use crate::error::{Error, Result};
use crate::kek::Kek;
use shared::SecretDigest;

/// How long a secret waits for its page: ten minutes.
pub const REVEAL_TTL_US: i64 = 10 * 60 * 1_000_000;

/// What a waiting secret belongs to, e.g. `application:app_…`.
pub fn target(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

/// The sealing key of one session, derived from its cookie value.
fn session_key(session_id: &Secret) -> Kek {
    let mut h = Sha256::new();
    h.update(b"caseforge console reveal v1\0");
    h.update(session_id.expose().as_bytes());
    Kek::from_bytes(h.finalize().into())
}

/// Keeps `secret` for the next [`take`] of `target` by the session `session_id`.
pub async fn stash(
    db: &Db,
    session_id: &Secret,
    target: &str,
    secret: &str,
    now: i64,
) -> Result<()> {
    let row = RevealRow {
        session_digest: SecretDigest::of(session_id.expose()).as_str().to_owned(),
        target: target.to_owned(),
        sealed: session_key(session_id).seal(target, secret.as_bytes()),
        expires_at: now + REVEAL_TTL_US,
    };
    db.run(move |c| c.transaction(|c| RevealRow::put(c, &row)))
        .await?;
    Ok(())
}

/// The secret waiting for `target` in this session, removed as it is read: `None` when there
/// is none (already shown, expired, or another session's).
pub async fn take(db: &Db, session_id: &Secret, target: &str, now: i64) -> Result<Option<Secret>> {
    let digest = SecretDigest::of(session_id.expose()).as_str().to_owned();
    let t = target.to_owned();
    let row = db
        .run(move |c| {
            c.transaction(|c| {
                let row = RevealRow::find(c, &digest, &t)?;
                if row.is_some() {
                    RevealRow::delete(c, &digest, &t)?;
                }
                Ok(row)
            })
        })
        .await?;
    let Some(row) = row.filter(|r| r.expires_at > now) else {
        return Ok(None);
    };
    let plain = session_key(session_id)
        .open(target, &row.sealed)
        .map_err(|e| Error::Internal(format!("a console reveal could not be opened: {e}")))?;
    let secret = String::from_utf8(plain)
        .map_err(|_| Error::Internal("a console reveal is not text".into()))?;
    Ok(Some(Secret::new(secret)))
}

/// Deletes the rows past their end (the periodic session purge).
pub fn purge(c: &mut shared::db::DbConnection, now: i64) -> diesel::QueryResult<usize> {
    RevealRow::purge_expired(c, now)
}
