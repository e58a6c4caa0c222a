//! Operators: the people who sign in to `/console` — their roles, emails, passwords, TOTP, and
//! the sign-in check.
//!
//! Passwords are hashed as client secrets were before digests (`service::secrets`: bcrypt over
//! the SHA-256 pre-hash), at `max(12, BCRYPT_COST)`. Sign-in runs bcrypt on the blocking pool under a
//! semaphore of its own ([`LOGIN_HASHING_PERMITS`]), so a flood of logins queues behind two
//! permits instead of taking the blocking threads token issuance needs. Unknown emails are
//! verified against a dummy hash: unknown email, wrong password and wrong code give the same
//! answer after the same work.
//!
//! **Guessing is stopped before any work.** Every budget is taken *before* the attempt is
//! checked, and an attempt over a budget is answered 429 without a database lookup, a bcrypt or
//! a code check — a throttled answer costs microseconds and tells nothing about the guess:
//! - per source address (the client address `TRUSTED_PROXIES` resolves): one attempt checked at
//!   a time (a concurrent one is answered 429 at once, so one address's burst cannot occupy the
//!   hashing permits ahead of other operators), and a burst of [`LOGIN_FAILURE_BURST`] failures,
//!   then one every [`LOGIN_FAILURE_REFILL`];
//! - per account (the typed email, normalised, whether or not it exists): [`ACCOUNT_LOCKOUT`]
//!   — a few failures, then a lock that doubles with each further failure. An attempt carrying
//!   this account's device cookie (`service::devices`: the browser signed in to it before) is
//!   counted per device instead, so the lockout an attacker causes does not keep the owner out;
//! - per operator, wrong TOTP codes after a right password: [`TOTP_LOCKOUT`], checked before the
//!   password is, so a locked account answers the same whether the password was right;
//! - per operator, the current password re-entered on the account page: [`REAUTH_LOCKOUT`].
//!
//! A success gives the source's token back and clears the account's (or device's) count.
//! With `REDIS_URL` every budget is shared by the replicas.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::Connection;
use serde::{Deserialize, Serialize};
use shared::db::Db;
use shared::throttle::{FailureThrottle, Lockout, LockoutPolicy};
use shared::{NewSecret, Secret, SecretDigest};
use tokio::sync::Semaphore;

use super::audit::{self, AuditContext, AuditEvent, AuditKey, Feed};
use super::devices::{Device, DeviceKeys};
use super::kek::Kek;
use super::secrets;
use crate::db::operators::OperatorRow;
use crate::error::{Error, Result};

/// bcrypt runs of sign-ins (and password changes) in flight at once.
pub const LOGIN_HASHING_PERMITS: usize = 2;
/// Failed sign-ins tolerated per source address in a burst, and the refill.
pub const LOGIN_FAILURE_BURST: u32 = 10;
pub const LOGIN_FAILURE_REFILL: Duration = Duration::from_secs(6);
/// Sign-in failures per account (or per known device): five, then 1 min, 2, 4, … at most 15 min
/// (about a hundred guesses a day at most, from any number of addresses).
pub const ACCOUNT_LOCKOUT: LockoutPolicy = LockoutPolicy {
    free: 5,
    base: Duration::from_secs(60),
    max: Duration::from_secs(15 * 60),
    forget: Duration::from_secs(24 * 3600),
};
/// Wrong TOTP codes per operator (the password was right): five, then 1 min, doubling, at most
/// an hour.
pub const TOTP_LOCKOUT: LockoutPolicy = LockoutPolicy {
    free: 5,
    base: Duration::from_secs(60),
    max: Duration::from_secs(3600),
    forget: Duration::from_secs(24 * 3600),
};
/// Wrong current passwords on the account page per operator (a stolen session guessing the
/// password to change it or TOTP): as [`ACCOUNT_LOCKOUT`].
pub const REAUTH_LOCKOUT: LockoutPolicy = ACCOUNT_LOCKOUT;
/// A setup link works this long.
pub const SETUP_LINK_LIFETIME_US: i64 = 24 * 3600 * 1_000_000;
/// Passwords: at least this many characters, at most this many bytes.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_EMAIL_LEN: usize = 254;
/// RFC 6238 parameters: SHA-1, 6 digits, 30 s steps, one step of skew either way.
const TOTP_STEP_SECS: u64 = 30;
const TOTP_DIGITS: usize = 6;
const TOTP_ISSUER: &str = "CaseForge";

/// What an operator may do in the console. One string mapping: `admin`, `developer`, `auditor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Developer,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Developer, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| "must be admin, developer or auditor".to_owned())
    }
}

/// An operator's email: trimmed, lowercased, one `@` with text on both sides and a dot in the
/// domain, no spaces or control characters, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> std::result::Result<Email, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("is required".to_owned());
        }
        if email.len() > MAX_EMAIL_LEN {
            return Err(format!("must be at most {MAX_EMAIL_LEN} characters"));
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || shared::validate::hidden(c))
        {
            return Err("must not contain spaces, control or invisible characters".to_owned());
        }
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
        if !valid {
            return Err("must be an email address such as name@example.com".to_owned());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: at least 12 characters, at most 1024 bytes. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(Secret);

impl Password {
    pub fn parse(raw: &str) -> std::result::Result<Password, String> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
        }
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
        }
        Ok(Password(Secret::new(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What pages and the CLI show of an operator. Never a hash, a setup digest or a TOTP secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub totp_enabled: bool,
    pub disabled: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl OperatorView {
    /// The view of a row; a role the code does not know is an internal error.
    pub fn from_row(row: &OperatorRow) -> Result<OperatorView> {
        Ok(OperatorView {
            id: row.id.clone(),
            email: row.email.clone(),
            role: row
                .role
                .parse()
                .map_err(|_| Error::Internal(format!("operator {} has an unknown role", row.id)))?,
            totp_enabled: row.totp_enabled,
            disabled: row.disabled,
            created_at: shared::time::rfc3339(row.created_at),
        })
    }
}

/// A created operator, with the one-time setup token when no password was given.
#[derive(Debug)]
pub struct Created {
    pub operator: OperatorView,
    /// Shown once, as `{AUTH_ISSUER}/console/setup?token=…`; only its digest is stored.
    pub setup_token: Option<Secret>,
}

/// The setup link for `token`.
pub fn setup_link(issuer: &str, token: &Secret) -> String {
    format!(
        "{}/console/setup?token={}",
        issuer.trim_end_matches('/'),
        token.expose()
    )
}

/// A TOTP enrolment in progress: what the authenticator app needs.
pub struct TotpEnrolment {
    /// `otpauth://totp/CaseForge:<email>?secret=…&issuer=CaseForge` (for a QR code or a link).
    pub uri: Secret,
    /// The secret as base32 text, for typing in.
    pub base32: Secret,
}

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

/// The sign-in machinery: bcrypt bound, dummy hash, failure budgets, device cookies, the TOTP
/// KEK.
pub struct Operators {
    cost: u32,
    /// bcrypt of a random secret at `cost`, made at the first sign-in (not at start, where it
    /// would cost every server and test start a bcrypt at cost 12).
    dummy_hash: Arc<OnceLock<String>>,
    hashing: Arc<Semaphore>,
    per_source: FailureThrottle,
    /// Source addresses with a sign-in being checked right now (one at a time per address).
    in_flight: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Keyed by the normalised email (attempts without this account's device cookie).
    per_account: Lockout,
    /// Keyed by device (attempts with this account's device cookie).
    per_device: Lockout,
    /// Keyed by operator id.
    totp_codes: Lockout,
    /// Keyed by operator id.
    reauth: Lockout,
    devices: Option<DeviceKeys>,
    kek: Option<Kek>,
    /// `caseforge_auth_console_sign_ins_total{outcome}`: success, invalid, throttled.
    sign_ins: prometheus::IntCounterVec,
    /// `caseforge_auth_password_checks_total`: bcrypt verifications of typed passwords (the
    /// dummy included): what a throttled attempt never costs.
    password_checks: prometheus::IntCounter,
}

impl Operators {
    /// `cost` is the bcrypt cost new passwords get (the dummy hash costs the same); `kek` seals
    /// TOTP secrets (without it TOTP enrolment is refused).
    pub fn new(cost: u32, kek: Option<Kek>) -> Self {
        Operators {
            cost,
            dummy_hash: Arc::new(OnceLock::new()),
            hashing: Arc::new(Semaphore::new(LOGIN_HASHING_PERMITS)),
            per_source: FailureThrottle::new(LOGIN_FAILURE_BURST, LOGIN_FAILURE_REFILL, 100_000),
            in_flight: Arc::default(),
            per_account: Lockout::new(ACCOUNT_LOCKOUT, 100_000),
            per_device: Lockout::new(ACCOUNT_LOCKOUT, 100_000),
            totp_codes: Lockout::new(TOTP_LOCKOUT, 100_000),
            reauth: Lockout::new(REAUTH_LOCKOUT, 100_000),
            devices: kek.as_ref().map(DeviceKeys::new),
            kek,
            sign_ins: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "caseforge_auth_console_sign_ins_total",
                    "Console sign-in attempts by outcome (success, invalid, throttled: refused before any check).",
                ),
                &["outcome"],
            )
            .expect("invariant: static metric definition is valid"),
            password_checks: prometheus::IntCounter::new(
                "caseforge_auth_password_checks_total",
                "bcrypt verifications of typed operator passwords (sign-in and re-entered current passwords).",
            )
            .expect("invariant: static metric definition is valid"),
        }
    }

    /// Registers the sign-in metrics with the service's registry.
    pub fn with_metrics(self, metrics: &shared::metrics::Metrics) -> Self {
        metrics.register(Box::new(self.sign_ins.clone()));
        metrics.register(Box::new(self.password_checks.clone()));
        self
    }

    /// Shares every sign-in budget with every replica through `store`.
    pub fn with_shared_throttle(mut self, store: Arc<shared::redis_store::RedisStore>) -> Self {
        self.per_source = self.per_source.shared("operator-source", store.clone());
        self.per_account = self.per_account.shared("operator-account", store.clone());
        self.per_device = self.per_device.shared("operator-device", store.clone());
        self.totp_codes = self.totp_codes.shared("operator-totp", store.clone());
        self.reauth = self.reauth.shared("operator-reauth", store);
        self
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// bcrypt of `password`, on the blocking pool, under the login-hashing bound.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        hash_bounded(Some(&self.hashing), password, self.cost).await
    }

    /// Whether `password` matches `hash` (`None`: the dummy), under the bound. Always pays for
    /// one bcrypt.
    async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
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

    async fn check_attempt(
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
    fn device(&self, cookie: Option<&str>, account: &str, now_us: i64) -> Option<Device> {
        self.devices
            .as_ref()?
            .verify(cookie?, account, now_us / 1_000_000)
    }

    /// The signed-in operator's current password, re-entered to confirm a change. Attempts
    /// draw from the operator's [`REAUTH_LOCKOUT`] before bcrypt runs, so a stolen session
    /// cannot guess the password faster than the login form allows; a locked one is
    /// `Error::Throttled`.
    async fn check_current_password(&self, row: &OperatorRow, current: &str) -> Result<bool> {
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
    async fn rehash_if_needed(&self, db: &Db, row: &OperatorRow, password: &str, now: i64) {
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

    /// Verifies `code` against the operator's TOTP secret (±1 step) and records its step, so
    /// that it is never accepted again; `enable` turns TOTP on (enrolment confirmed).
    async fn use_totp_code(
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

    fn kek(&self) -> Result<&Kek> {
        self.kek
            .as_ref()
            .ok_or_else(|| Error::Internal("no key-encryption key for TOTP secrets".into()))
    }

    fn open_totp(&self, operator_id: &str, sealed: &str) -> Result<Vec<u8>> {
        self.kek()?
            .open(&totp_aad(operator_id), sealed)
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
fn account_key(typed: &str) -> String {
    typed
        .trim()
        .to_lowercase()
        .chars()
        .take(MAX_EMAIL_LEN)
        .collect()
}

fn totp_aad(operator_id: &str) -> String {
    format!("operator-totp:{operator_id}")
}

fn enrolment(email: &str, secret: Vec<u8>) -> Result<TotpEnrolment> {
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

async fn hash_bounded(limit: Option<&Semaphore>, password: &Password, cost: u32) -> Result<String> {
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

async fn find_row(db: &Db, id: &str) -> Result<OperatorRow> {
    let id = id.to_owned();
    db.run(move |c| OperatorRow::find(c, &id))
        .await?
        .ok_or(Error::NotFound("operator"))
}

async fn store_password(
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

async fn create_hashed(
    db: &Db,
    ctx: &AuditContext,
    email: Email,
    role: Role,
    password_hash: Option<String>,
    now: i64,
) -> Result<Created> {
    let setup = password_hash.is_none().then(NewSecret::random_token);
    let row = OperatorRow {
        id: format!("op_{}", super::random_base62(22)),
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

/// One change to an operator row in a transaction: `update` returns the rows it changed and the
/// event describing it, recorded only when a row changed; no row is a 404.
async fn change<F>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_have_one_string_mapping() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::String(role.to_string())
            );
        }
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
            "ada@example.com.",
            "ad\u{202e}a@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_have_bounds_and_a_redacting_debug() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(11)).is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(p.expose(), "correct horse battery");
        assert!(!format!("{p:?}").contains("horse"));
        assert!(Password::parse(&"é".repeat(12)).is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

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
