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

pub mod api_key;
pub mod claims;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
pub mod cors;
pub mod db;
pub mod environment;
pub mod error;
pub mod http;
pub mod metrics;
#[cfg(feature = "outbound")]
pub mod outbound;
pub mod ratelimit;
pub mod routing;
pub mod scope;
pub mod secret;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod tier;
pub mod time;
pub mod validate;
pub mod verify;

pub use api_key::{ApiKey, ApiKeyFormatError};
pub use claims::AccessTokenClaims;
pub use environment::Environment;
pub use error::{ApiError, ErrorBody};
pub use scope::{Scope, ScopeSet, UnknownScope};
pub use secret::Secret;
pub use tier::{Tier, TierLimits};
