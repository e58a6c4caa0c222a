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
//!
//! One public API (re-exported here) in five files: `values` (role, email, password, the view),
//! `sign_in` (the check above), `totp`, `setup_links` and `accounts` (the changes the console
//! and the CLI make). [`Operators`] holds the budgets and the hashing bound for all of them.

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
use super::secrets;
use crate::db::operators::OperatorRow;
use crate::error::{Error, Result};
use crate::kek::Kek;

mod accounts;
mod setup_links;
mod sign_in;
mod totp;
mod values;

pub use accounts::*;
pub use setup_links::*;
pub use sign_in::*;
pub use totp::*;
pub use values::*;

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
    /// `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS`: opens a TOTP secret not yet re-sealed (another
    /// replica's start re-seals them, `service::reseal`); never seals.
    previous_kek: Option<Kek>,
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
            previous_kek: None,
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
}
