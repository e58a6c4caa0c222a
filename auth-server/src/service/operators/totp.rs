//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of skew): enrolment, the secret
//! sealed under the KEK, each code used once, wrong codes throttled per operator.

use super::*;

/// RFC 6238 parameters: SHA-1, 6 digits, 30 s steps, one step of skew either way.
pub(super) const TOTP_STEP_SECS: u64 = 30;

pub(super) const TOTP_DIGITS: usize = 6;

pub(super) const TOTP_ISSUER: &str = "CaseForge";

/// A TOTP enrolment in progress: what the authenticator app needs.
pub struct TotpEnrolment {
    /// `otpauth://totp/CaseForge:<email>?secret=…&issuer=CaseForge` (for a QR code or a link).
    pub uri: Secret,
    /// The secret as base32 text, for typing in.
    pub base32: Secret,
}

impl Operators {
    /// Verifies `code` against the operator's TOTP secret (±1 step) and records its step, so
    /// that it is never accepted again; `enable` turns TOTP on (enrolment confirmed).
    pub(super) async fn use_totp_code(
        &self,
        db: &Db,
        row: &OperatorRow,
        code: &str,
        enable: bool,
        now_us: i64,
    ) -> Result<bool> {
        let Some(sealed) = row.totp_secret.as_deref() else {
            return Ok(false);
        };
        let secret = self.open_totp(&row.id, sealed)?;
        let Some(step) = matching_step(&secret, code, now_us, row.totp_last_step) else {
            return Ok(false);
        };
        let (id, sealed_now) = (row.id.clone(), sealed.to_owned());
        let now = now_us;
        Ok(db
            .run(move |c| OperatorRow::use_totp_step(c, &id, &sealed_now, step, enable, now))
            .await?)
    }

    pub(super) fn kek(&self) -> Result<&Kek> {
        self.kek
            .as_ref()
            .ok_or_else(|| Error::Internal("no key-encryption key for TOTP secrets".into()))
    }

    /// The previous KEK, during a rotation: TOTP secrets sealed under it still open.
    pub fn with_previous_kek(mut self, previous: Option<Kek>) -> Self {
        self.previous_kek = previous;
        self
    }

    pub(super) fn open_totp(&self, operator_id: &str, sealed: &str) -> Result<Vec<u8>> {
        let current = self.kek()?;
        let kek = match &self.previous_kek {
            Some(prev)
                if crate::kek::sealed_with(sealed) == Some(prev.id())
                    && prev.id() != current.id() =>
            {
                prev
            }
            _ => current,
        };
        kek.open(&totp_aad(operator_id), sealed)
            .map_err(|e| Error::Internal(format!("TOTP secret of {operator_id}: {e}")))
    }

    /// Starts (or restarts) TOTP enrolment after checking the operator's current password (a
    /// stolen session cannot bind the thief's authenticator): a fresh secret, sealed, stored
    /// unconfirmed. `Ok(None)`: wrong password, nothing changed.
    pub async fn totp_begin(
        &self,
        db: &Db,
        operator_id: &str,
        current: &str,
        now: i64,
    ) -> Result<Option<TotpEnrolment>> {
        let row = find_row(db, operator_id).await?;
        if !self.check_current_password(&row, current).await? {
            return Ok(None);
        }
        if row.totp_enabled {
            return Err(Error::Conflict(
                "TOTP is already enabled; disable it first".into(),
            ));
        }
        let secret: [u8; 20] = rand::random();
        let sealed = self.kek()?.seal(&totp_aad(&row.id), &secret);
        let id = row.id.clone();
        let n = db
            .run(move |c| OperatorRow::set_pending_totp(c, &id, &sealed, now))
            .await?;
        if n == 0 {
            return Err(Error::Conflict(
                "TOTP is already enabled; disable it first".into(),
            ));
        }
        enrolment(&row.email, secret.to_vec()).map(Some)
    }

    /// The pending enrolment of an operator, if one was begun and not confirmed.
    pub async fn totp_pending(&self, db: &Db, operator_id: &str) -> Result<Option<TotpEnrolment>> {
        let row = find_row(db, operator_id).await?;
        match (&row.totp_secret, row.totp_enabled) {
            (Some(sealed), false) => Ok(Some(enrolment(
                &row.email,
                self.open_totp(&row.id, sealed)?,
            )?)),
            _ => Ok(None),
        }
    }

    /// Confirms enrolment with one valid code; false when the code is wrong (nothing changes).
    pub async fn totp_confirm(
        &self,
        db: &Db,
        ctx: &AuditContext,
        operator_id: &str,
        code: &str,
        now: i64,
    ) -> Result<bool> {
        let row = find_row(db, operator_id).await?;
        if row.totp_enabled || row.totp_secret.is_none() {
            return Err(Error::Conflict("no TOTP enrolment is in progress".into()));
        }
        self.totp_codes
            .take(&row.id, Instant::now())
            .await
            .map_err(|retry_after| Error::Throttled { retry_after })?;
        if !self.use_totp_code(db, &row, code.trim(), true, now).await? {
            return Ok(false);
        }
        self.totp_codes.clear(&row.id).await;
        let event = AuditEvent::success("operator.totp_enable", &row.id, serde_json::json!({}));
        let ctx = ctx.clone();
        // Its own transaction: the chain's writer lock is held until the event commits.
        db.run(move |c| c.transaction(|c| audit::change(c, &ctx, Feed::TrailOnly, &event, now)))
            .await?;
        Ok(true)
    }

    /// Turns TOTP off after checking the operator's current password.
    pub async fn totp_disable(
        &self,
        db: &Db,
        ctx: &AuditContext,
        operator_id: &str,
        current: &str,
        now: i64,
    ) -> Result<bool> {
        let row = find_row(db, operator_id).await?;
        if !self.check_current_password(&row, current).await? {
            return Ok(false);
        }
        let (id, ctx) = (row.id.clone(), ctx.clone());
        db.run(move |c| {
            c.transaction(|c| {
                OperatorRow::clear_totp(c, &id, now)?;
                let event =
                    AuditEvent::success("operator.totp_disable", &id, serde_json::json!({}));
                audit::change(c, &ctx, Feed::TrailOnly, &event, now)
            })
        })
        .await?;
        Ok(true)
    }
}

pub(crate) fn totp_aad(operator_id: &str) -> String {
    format!("operator-totp:{operator_id}")
}

pub(super) fn enrolment(email: &str, secret: Vec<u8>) -> Result<TotpEnrolment> {
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        1,
        TOTP_STEP_SECS,
        secret,
        Some(TOTP_ISSUER.to_owned()),
        email.to_owned(),
    )
    .map_err(|e| Error::Internal(format!("TOTP: {e}")))?;
    Ok(TotpEnrolment {
        uri: Secret::new(totp.get_url()),
        base32: Secret::new(totp.get_secret_base32()),
    })
}

/// The time step (RFC 6238 `T`) at `now_us` whose code is `code`, among the current step and
/// one either side, later than `last_step`. Compared in constant time.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    now_us: i64,
    last_step: Option<i64>,
) -> Option<i64> {
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        1,
        TOTP_STEP_SECS,
        secret.to_vec(),
        None,
        String::new(),
    );
    let now_secs = u64::try_from(now_us / 1_000_000).ok()?;
    let current = now_secs / TOTP_STEP_SECS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * TOTP_STEP_SECS);
        if shared::secret::ct_eq(expected.as_bytes(), code.as_bytes()) {
            let step = i64::try_from(step).ok()?;
            if last_step.is_none_or(|last| step > last) && found.is_none() {
                found = Some(step);
            }
        }
    }
    found
}

/// The code of `secret` at `now_us` (tests and tools).
pub fn totp_code(secret_base32: &str, now_us: i64) -> Option<String> {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .ok()?;
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        1,
        TOTP_STEP_SECS,
        bytes,
        None,
        String::new(),
    );
    Some(totp.generate(u64::try_from(now_us / 1_000_000).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_codes_match_one_step_either_side_and_never_twice() {
        let secret = [7u8; 20];
        let base32 = totp_rs::Secret::Raw(secret.to_vec())
            .to_encoded()
            .to_string();
        let now = 1_800_000_000 * 1_000_000;
        let code = totp_code(&base32, now).unwrap();
        let step = 1_800_000_000 / 30;
        assert_eq!(matching_step(&secret, &code, now, None), Some(step));
        // 30 s later the same code is the previous step: still accepted once.
        assert_eq!(
            matching_step(&secret, &code, now + 30_000_000, None),
            Some(step)
        );
        // Two steps later it is too old.
        assert_eq!(matching_step(&secret, &code, now + 60_000_000, None), None);
        // A step already used is refused.
        assert_eq!(matching_step(&secret, &code, now, Some(step)), None);
        assert_eq!(matching_step(&secret, "12345", now, None), None);
        assert_eq!(matching_step(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn rfc6238_sha1_test_vector() {
        // RFC 6238 appendix B: the ASCII secret "12345678901234567890", T = 59 s → 94287082
        // (8 digits); the 6-digit code is its last six digits.
        let secret = b"12345678901234567890";
        let base32 = totp_rs::Secret::Raw(secret.to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(totp_code(&base32, 59_000_000).unwrap(), "287082");
    }
}
