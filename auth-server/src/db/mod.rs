//! Row structs and queries of the tables the auth server owns, as associated functions that
//! take a connection. Handlers never build queries; they call the service layer, which calls
//! these inside [`shared::db::Db::run`].
//!
//! Invariant: no secret is stored in plaintext. `applications.secret_hash` (and
//! `previous_secret_hash`) hold `sha256:` + base64(SHA-256(secret)), or, in rows from before
//! digests, bcrypt of the same base64 digest (`service::secrets`);
//! `api_keys.key_digest` holds the SHA-256 digest of the key (`shared::api_key`), plus a masked
//! form for display; `signing_keys.private_key` is sealed under `SIGNING_KEY_ENCRYPTION_KEY`
//! (`crate::kek`), which is never written here — a row left in plaintext by a version before
//! sealing existed is sealed at the next start (`KeyStore::load_or_create`), the one window in
//! which a plaintext key can sit in the table; `revoked_tokens` holds a token's `jti`, never the
//! token; `operators` holds bcrypt password hashes, setup-link digests and sealed TOTP secrets,
//! `operator_sessions` the SHA-256 of each session id; `console_reveals` a secret to be shown
//! once, sealed under a key derived from the session's cookie value (never stored) and kept at
//! most ten minutes.

pub mod api_keys;
pub mod applications;
pub mod audit_events;
pub mod operators;
pub mod reveals;
pub mod revoked_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod webhook_endpoints;
