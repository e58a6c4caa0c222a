//! The auth server's domain and service layer: everything between a parsed request and the
//! database. Route handlers and the CLI both call into here, so the rules live once.

pub mod api_keys;
pub mod applications;
pub mod client_auth;
pub mod grants;
pub mod kek;
pub mod secrets;
pub mod signing;
pub mod tokens;

use chrono::Utc;

/// Now, in Unix microseconds. Only the outermost layer (handlers, CLI) calls this; everything
/// below takes the time as a parameter.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Random base62 text of `len` characters from the thread-local CSPRNG.
pub fn random_base62(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

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
