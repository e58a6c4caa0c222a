//! The CaseForge authorization server.
//!
//! It owns applications (OAuth clients), API keys, signing keys and token revocations. It
//! issues RFC 9068 JWT access tokens for the client-credentials grant (RFC 6749 §4.4), publishes
//! its public keys (RFC 7517), its metadata (RFC 8414), and answers introspection (RFC 7662)
//! and revocation (RFC 7009). Ops manage it through the admin API or the CLI.
//!
//! It must never store a secret in plaintext, log a secret or token, sign with a symmetric
//! algorithm, or serve `/v2` data: that is the resource API's job.

pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod kek;
pub mod openapi;
pub mod routes;
pub mod service;
pub mod startup;

pub use config::Config;
pub use startup::Application;
