//! Thin HTTP handlers: extract → validate → call the service → map. Registered in
//! `startup.rs`, the one place routes are wired.
//!
//! Invariant: no handler runs SQL. Handlers call `service/` (the OAuth endpoints
//! `service::grants`, the admin API `service::applications` and `service::api_keys`), whose
//! queries (`db/`) run inside `Db::run` on the blocking pool. The one exception is the readiness
//! probe (`health.rs`), whose `Db::ping` runs `SELECT 1`.

pub mod admin;
pub mod health;
pub mod oauth;
pub mod well_known;

use std::sync::Arc;

use shared::db::Db;
use shared::ratelimit::Limiter;
use shared::throttle::FailureThrottle;

use crate::service::audit::{AuditAggregator, AuditKey};
use crate::service::client_auth::ClientAuthenticator;
use crate::service::last_token::LastTokenTracker;
use crate::service::operators::Operators;
use crate::service::signing::KeyStore;
use crate::Config;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub config: Config,
    pub keys: Arc<KeyStore>,
    pub clients: ClientAuthenticator,
    /// `private_key_jwt` assertions and the replay guard of their `jti`s.
    pub assertions: crate::service::assertions::ClientAssertions,
    /// DPoP server nonces, when `DPOP_NONCE_KEY` is set.
    pub nonces: Option<shared::dpop::Nonces>,
    /// Tokens issued per application, by tier (contract §4.3 limits).
    pub issuance: Limiter,
    /// Failed admin authentications per source address.
    pub admin_failures: FailureThrottle,
    /// Token issues waiting for the batched `applications.last_token_at` write.
    pub last_tokens: Arc<LastTokenTracker>,
    /// Console sign-in: bcrypt bound, dummy hash, failure throttles, the TOTP key.
    pub operators: Operators,
    /// The audit chain's current key (from `SIGNING_KEY_ENCRYPTION_KEY`): every
    /// `AuditContext` of a request is built with it.
    pub audit_key: AuditKey,
    /// Refused attempts (failed sign-ins, refused console actions), written to the audit trail
    /// as one aggregated event per key and window.
    pub refusals: Arc<AuditAggregator>,
}
