//! The vocabulary both CaseForge services speak.
//!
//! `shared` owns the types that must mean the same thing in the authorization server and in
//! the resource API: the [`Scope`] enum and [`ScopeSet`], [`Environment`], [`Tier`] with its
//! rate-limit table, the RFC 9068 access-token [`claims`], the API-key format ([`api_key`]),
//! the JSON error envelope ([`error`]), and the database connection both services open on the
//! one database ([`db`]).
//!
//! It must never hold service policy: no handler, no token issuance, no credential lookup.
//! A type lives here only when both services would otherwise have to agree on it by copy.
//!
//! Features: `server` (both services) adds the service skeleton — configuration, telemetry,
//! metrics, the database, the HTTP edge — and with it actix-web, diesel and prometheus;
//! `client` alone (backend services) compiles none of those.

#[cfg(feature = "server")]
pub mod aead;
pub mod api_key;
#[cfg(feature = "server")]
pub mod changes;
pub mod claims;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod client_addr;
#[cfg(feature = "client")]
pub mod client_keys;
pub mod config;
#[cfg(feature = "server")]
pub mod cors;
#[cfg(feature = "server")]
pub mod db;
#[cfg(feature = "server")]
pub mod docs;
#[cfg(feature = "server")]
pub mod dpop;
pub mod environment;
pub mod error;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod jose;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod openapi;
#[cfg(feature = "outbound")]
pub mod outbound;
#[cfg(feature = "server")]
pub mod proxy_protocol;
pub mod random;
pub mod ratelimit;
#[cfg(feature = "server")]
pub mod redis_store;
#[cfg(feature = "server")]
pub mod replay;
#[cfg(feature = "server")]
pub mod routing;
pub mod scope;
pub mod secret;
#[cfg(feature = "server")]
pub mod skeleton;
#[cfg(feature = "server")]
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod test_keys;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "server")]
pub mod throttle;
pub mod tier;
pub mod time;
#[cfg(any(feature = "server", feature = "client"))]
pub mod trace;
pub mod validate;
#[cfg(feature = "server")]
pub mod verify;
#[cfg(all(feature = "server", feature = "outbound"))]
pub mod webhooks;

pub use api_key::{ApiKey, ApiKeyFormatError};
pub use claims::AccessTokenClaims;
pub use environment::Environment;
#[cfg(feature = "server")]
pub use error::ApiError;
pub use error::ErrorBody;
pub use scope::{Scope, ScopeSet, UnknownScope};
pub use secret::{NewSecret, Secret, SecretDigest};
pub use tier::{Tier, TierLimits};
