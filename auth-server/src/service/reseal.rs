//! Operators' TOTP secrets brought under the current KEK at start-up, beside the signing keys
//! (`signing::KeyStore::load_or_create`) and the audit chain (`audit::prepare_chain`): after a
//! KEK rotation (`SIGNING_KEY_ENCRYPTION_KEY` new, `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS` the
//! old one) a secret sealed under the previous KEK is opened with it and sealed again under the
//! current one, so that two-step sign-in keeps working and the previous KEK can be dropped at
//! the next start. A secret neither KEK opens is left as it is (that operator's sign-in fails
//! until an admin runs `operator reset-totp`) and named in the log, never its value.

use serde_json::json;
use shared::db::{Db, DbError};

use super::audit::{self, AuditContext, AuditEvent, Feed};
use super::operators::totp_aad;
use crate::db::operators::OperatorRow;
use crate::kek::{self, Kek};

/// Re-seals every TOTP secret stored under `previous` with `current`; returns how many.
pub fn reseal_totp_secrets(
    db: &Db,
    current: &Kek,
    previous: Option<&Kek>,
    now: i64,
) -> Result<usize, DbError> {
    let Some(previous) = previous.filter(|p| p.id() != current.id()) else {
        return Ok(0);
    };
    let rows = db.run_blocking(OperatorRow::sealed_totp_secrets)?;
    let audit_key = audit::AuditKey::from_kek(current);
    let mut resealed = 0;
    for (id, stored) in rows {
        if kek::sealed_with(&stored) != Some(previous.id()) {
            continue;
        }
        let secret = match previous.open(&totp_aad(&id), &stored) {
            Ok(secret) => secret,
            Err(e) => {
                tracing::warn!(operator = %id, "TOTP secret not re-sealed: {e}");
                continue;
            }
        };
        let sealed = current.seal(&totp_aad(&id), &secret);
        let ctx = AuditContext::system(&audit_key);
        let event = AuditEvent::success(
            "operator.totp_reseal",
            id.as_str(),
            json!({"kek_id": current.id()}),
        );
        let n = db.run_blocking(move |c| {
            use diesel::Connection;
            c.transaction(|c| {
                let n = OperatorRow::reseal_totp(c, &id, &stored, &sealed)?;
                if n > 0 {
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                }
                Ok(n)
            })
        })?;
        resealed += n;
    }
    if resealed > 0 {
        tracing::info!(
            "{resealed} TOTP secret(s) re-sealed with KEK {}",
            current.id()
        );
    }
    Ok(resealed)
}
