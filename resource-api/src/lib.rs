//! The CaseForge resource API (`/v2`): cases, SARs, watchlist, subjects, transactions, alerts.
//!
//! It verifies credentials — access tokens against the authorization server's published keys,
//! API keys by digest — enforces the scope each route declares, keeps live and sandbox data
//! apart, and rate-limits by tier. It must never read client secrets, sign tokens, or write the
//! authorization server's tables (except `api_keys.last_used_at`, in batches).

pub mod auth;
pub mod conditional;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod service;
pub mod startup;

pub use config::Config;
pub use startup::Application;
