//! The sign-in check: the budgets taken before any work (per source, per account or device),
//! bcrypt under its own bound against the row or the dummy, then the TOTP code.

use super::*;

/// Why a sign-in failed. `Invalid` is the one answer for unknown email, wrong password, wrong
/// or replayed code, disabled account and unset password.
#[derive(Debug)]
pub enum LoginError {
    /// Checked and refused. `operator`: the id of the operator the email named, when one exists
    /// (for the audit trail; never shown).
    Invalid {
        operator: Option<String>,
    },
    /// Over a budget: refused without being checked; retry after this many seconds.
    Throttled {
        retry_after: u64,
    },
    Internal(Error),
}

/// A successful sign-in: the operator, and a fresh device cookie for the browser (`None`
/// without a KEK).
#[derive(Debug)]
pub struct SignedInOperator {
    pub operator: OperatorView,
    pub device_cookie: Option<String>,
}

impl From<Error> for LoginError {
    fn from(e: Error) -> Self {
        LoginError::Internal(e)
    }
}

impl From<shared::db::DbError> for LoginError {
    fn from(e: shared::db::DbError) -> Self {
        LoginError::Internal(Error::Db(e))
    }
}

/// A sign-in attempt as submitted.
pub struct LoginAttempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// The TOTP code field; ignored for operators without TOTP.
    pub totp: Option<&'a str>,
    /// The source address (throttle key and audit).
    pub source: &'a str,
    /// The browser's device cookie, if it sent one (`service::devices`).
    pub device: Option<&'a str>,
}

impl Operators {
    /// bcrypt of `password`, on the blocking pool, under the login-hashing bound.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        hash_bounded(Some(&self.hashing), password, self.cost).await
    }

    /// Whether `password` matches `hash` (`None`: the dummy), under the bound. Always pays for
    /// one bcrypt.
    pub(super) async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        self.password_checks.inc();
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| Error::Internal("login hashing limiter closed".into()))?;
        let (hash, dummy, cost) = (hash.map(str::to_owned), self.dummy_hash.clone(), self.cost);
        let password = Secret::new(password);
        actix_web::web::block(move || match hash {
            Some(hash) => secrets::verify_secret(password.expose(), &hash),
            None => {
                let dummy = dummy.get_or_init(|| {
                    secrets::hash_secret(secrets::generate_client_secret().plaintext(), cost)
                        .expect("invariant: bcrypt accepts a 44-byte input at a validated cost")
                });
                // The dummy's secret was thrown away: whatever bcrypt says, this is no match.
                std::hint::black_box(secrets::verify_secret(password.expose(), dummy));
                false
            }
        })
        .await
        .map_err(|_| Error::Internal("bcrypt task cancelled".into()))
    }

    /// Checks an attempt; on success returns the operator (and a new device cookie).
    /// `now_us` is wall-clock Unix microseconds (TOTP steps, device cookies), `now` the
    /// monotonic clock (budgets). Budgets are taken before anything is checked (module notes).
    /// The outcome is audited by the caller, who knows whether a session was made.
    pub async fn authenticate(
        &self,
        db: &Db,
        attempt: LoginAttempt<'_>,
        now_us: i64,
        now: Instant,
    ) -> std::result::Result<SignedInOperator, LoginError> {
        let outcome = self.check_attempt(db, attempt, now_us, now).await;
        let label = match &outcome {
            Ok(_) => "success",
            Err(LoginError::Invalid { .. }) => "invalid",
            Err(LoginError::Throttled { .. }) => "throttled",
            Err(LoginError::Internal(_)) => return outcome,
        };
        self.sign_ins.with_label_values(&[label]).inc();
        outcome
    }

    pub(super) async fn check_attempt(
        &self,
        db: &Db,
        attempt: LoginAttempt<'_>,
        now_us: i64,
        now: Instant,
    ) -> std::result::Result<SignedInOperator, LoginError> {
        let throttled = |retry_after| LoginError::Throttled { retry_after };
        // One check at a time per address: its burst is checked one after the other, so it
        // cannot fill the two hashing permits ahead of everybody else's sign-in.
        let _turn = InFlight::enter(&self.in_flight, attempt.source).ok_or(throttled(1))?;
        self.per_source
            .take(attempt.source, now)
            .await
            .map_err(throttled)?;
        let key = account_key(attempt.email);
        let device = self.device(attempt.device, &key, now_us);
        match &device {
            Some(d) => self.per_device.take(d.as_str(), now).await,
            None => self.per_account.take(&key, now).await,
        }
        .map_err(throttled)?;

        let row = match Email::parse(attempt.email) {
            Ok(email) => {
                let email = email.as_str().to_owned();
                db.run(move |c| OperatorRow::find_by_email(c, &email))
                    .await?
            }
            Err(_) => None,
        };
        let usable = row.as_ref().filter(|r| !r.disabled);
        let invalid = || LoginError::Invalid {
            operator: row.as_ref().map(|r| r.id.clone()),
        };
        // A locked TOTP answers before the password is checked, so that the answer is the same
        // whether the password was right.
        if let Some(r) = usable.filter(|r| r.totp_enabled) {
            if let Some(retry_after) = self.totp_codes.check(&r.id, now).await {
                return Err(throttled(retry_after));
            }
        }
        let hash = usable.and_then(|r| r.password_hash.as_deref());
        let password_ok = if attempt.password.len() > MAX_PASSWORD_BYTES {
            // Not hashed at all: nothing this long was ever stored. Still costs one bcrypt.
            self.verify("", None).await?
        } else {
            self.verify(attempt.password, hash).await?
        };
        let Some(row) = usable.filter(|_| password_ok) else {
            return Err(invalid());
        };
        if row.totp_enabled {
            let Some(code) = attempt.totp.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(invalid());
            };
            self.totp_codes
                .take(&row.id, now)
                .await
                .map_err(throttled)?;
            if !self.use_totp_code(db, row, code, false, now_us).await? {
                return Err(invalid());
            }
            self.totp_codes.clear(&row.id).await;
        }
        self.per_source.give_back(attempt.source, now).await;
        match &device {
            Some(d) => self.per_device.clear(d.as_str()).await,
            None => self.per_account.clear(&key).await,
        }
        self.rehash_if_needed(db, row, attempt.password, now_us)
            .await;
        Ok(SignedInOperator {
            operator: OperatorView::from_row(row)?,
            device_cookie: self
                .devices
                .as_ref()
                .map(|d| d.issue(&key, now_us / 1_000_000)),
        })
    }

    /// The device of a device cookie sent with an attempt on `account`, if it is one.
    pub(super) fn device(
        &self,
        cookie: Option<&str>,
        account: &str,
        now_us: i64,
    ) -> Option<Device> {
        self.devices
            .as_ref()?
            .verify(cookie?, account, now_us / 1_000_000)
    }

    /// The signed-in operator's current password, re-entered to confirm a change. Attempts
    /// draw from the operator's [`REAUTH_LOCKOUT`] before bcrypt runs, so a stolen session
    /// cannot guess the password faster than the login form allows; a locked one is
    /// `Error::Throttled`.
    pub(super) async fn check_current_password(
        &self,
        row: &OperatorRow,
        current: &str,
    ) -> Result<bool> {
        self.reauth
            .take(&row.id, Instant::now())
            .await
            .map_err(|retry_after| Error::Throttled { retry_after })?;
        let ok = current.len() <= MAX_PASSWORD_BYTES
            && self.verify(current, row.password_hash.as_deref()).await?;
        if ok {
            self.reauth.clear(&row.id).await;
        }
        Ok(ok)
    }

    /// A password hashed at another cost than the configured one is rehashed after a correct
    /// sign-in, so that the dummy hash of unknown emails keeps costing what a real one does.
    pub(super) async fn rehash_if_needed(
        &self,
        db: &Db,
        row: &OperatorRow,
        password: &str,
        now: i64,
    ) {
        let Some(old) = row.password_hash.clone() else {
            return;
        };
        if secrets::hash_cost(&old) == Some(self.cost) {
            return;
        }
        match self.hash(&Password(Secret::new(password))).await {
            Ok(new) => {
                let id = row.id.clone();
                let stored = db
                    .run(move |c| OperatorRow::replace_password_hash(c, &id, &old, &new, now))
                    .await;
                match stored {
                    Ok(_) => tracing::info!(
                        "password of operator {} rehashed at bcrypt cost {}",
                        row.id,
                        self.cost
                    ),
                    Err(e) => tracing::warn!("rehash of operator {} not stored: {e}", row.id),
                }
            }
            Err(e) => tracing::warn!("rehash of operator {} failed: {e}", row.id),
        }
    }
}

/// A source address's turn to have a sign-in checked; the address is free again when it drops.
struct InFlight {
    set: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    source: String,
}

impl InFlight {
    /// `None` while another attempt from `source` is being checked (on this replica).
    fn enter(
        set: &Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
        source: &str,
    ) -> Option<InFlight> {
        let inserted = set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(source.to_owned());
        inserted.then(|| InFlight {
            set: set.clone(),
            source: source.to_owned(),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.source);
    }
}

/// The per-account budget key of a typed email: trimmed, lowercased, bounded (a huge field
/// cannot become a huge key). The same whether or not the email names an operator.
pub(super) fn account_key(typed: &str) -> String {
    typed
        .trim()
        .to_lowercase()
        .chars()
        .take(MAX_EMAIL_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn sign_in_hashing_waits_for_its_own_two_permits() {
        let ops = Operators::new(4, None);
        let hash = secrets::hash_secret(&Secret::new("the password!"), 4).unwrap();
        let held = ops
            .hashing
            .clone()
            .acquire_many_owned(LOGIN_HASHING_PERMITS as u32)
            .await
            .unwrap();
        let waiting = tokio::time::timeout(
            Duration::from_millis(200),
            ops.verify("the password!", Some(&hash)),
        )
        .await;
        assert!(waiting.is_err(), "verified without a permit");
        drop(held);
        assert!(ops.verify("the password!", Some(&hash)).await.unwrap());
        assert!(!ops.verify("the password?", Some(&hash)).await.unwrap());
        // The dummy never matches, not even its own (discarded) secret's shape.
        assert!(!ops.verify("the password!", None).await.unwrap());
    }

    #[test]
    fn one_sign_in_at_a_time_per_source_address() {
        let set = Arc::default();
        let first = InFlight::enter(&set, "203.0.113.7").expect("a free address");
        assert!(
            InFlight::enter(&set, "203.0.113.7").is_none(),
            "a second, concurrent one"
        );
        let other = InFlight::enter(&set, "203.0.113.8");
        assert!(other.is_some(), "another address is not held up");
        drop(first);
        assert!(
            InFlight::enter(&set, "203.0.113.7").is_some(),
            "free again once checked"
        );
    }
}
