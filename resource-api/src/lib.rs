//! The CaseForge resource API (`/v2`): cases, SARs, watchlist, subjects, transactions, alerts.
//!
//! It verifies credentials (access tokens against the authorization server's published keys,
//! API keys by digest) and serves data of the credential's environment only. It must never read
//! client secrets, sign tokens, or write to the authorization server's tables except
//! `api_keys.last_used_at`.
//!
//! Status: a skeleton that starts, migrates and answers `/healthz`, `/readyz` and
//! `/openapi.json`; the `/v2` routes are the next issue.

pub mod config;
pub mod startup;

pub use config::Config;
pub use startup::Application;
