//! The auth server's domain and service layer: everything between a parsed request and the
//! database. Route handlers and the CLI both call into here, so the rules live once.

pub mod api_keys;
pub mod applications;
pub mod assertions;
pub mod audit;
pub mod client_auth;
pub mod devices;
pub mod grants;
pub mod last_token;
pub mod operators;
pub mod reseal;
pub mod reveals;
pub mod secrets;
pub mod sessions;
pub mod signing;
pub mod tokens;
pub mod webhook_endpoints;

pub use shared::random::random_base62;
pub use shared::time::now_micros;

/// Checks a free-text field (see [`shared::validate::text`]).
pub fn clean_text(
    field: &'static str,
    value: &str,
    required: bool,
    max: usize,
) -> Result<String, crate::error::Error> {
    shared::validate::text(field, value, required, max)
        .map_err(|e| crate::error::Error::validation(e.field, e.message))
}
