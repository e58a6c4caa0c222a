//! The API-key format.
//!
//! `cf_sand_` or `cf_live_`, then 43 random base62 characters (43 × log2 62 ≈ 256.03 bits),
//! then a 6-character base62 CRC-32 of everything before it. The checksum lets both services
//! reject a mistyped or truncated key without touching the database (the idea GitHub's token
//! format popularised); CRC-32 detects every single-character change because such a change is
//! an error burst shorter than 32 bits. Only the SHA-256 digest of a key is ever stored.

use std::fmt;

use crate::secret::SecretDigest;

use crate::Environment;

const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = 8;
/// Total length of every API key.
pub const API_KEY_LEN: usize = PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not an API key. None of the variants carries the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyFormatError {
    #[error("the API key has an unknown prefix (expected cf_sand_ or cf_live_)")]
    Prefix,
    #[error("the API key has the wrong length")]
    Length,
    #[error("the API key contains characters outside [0-9A-Za-z]")]
    Charset,
    #[error("the API key's checksum does not match (mistyped or truncated)")]
    Checksum,
}

/// A well-formed API key (checksum verified). `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    environment: Environment,
}

impl ApiKey {
    /// Generates a fresh key for `environment` from the OS-seeded CSPRNG.
    pub fn generate(environment: Environment) -> Self {
        let body = crate::random::random_base62(BODY_LEN);
        let mut key = String::with_capacity(API_KEY_LEN);
        key.push_str(environment.api_key_prefix());
        key.push_str(&body);
        let checksum = encode_checksum(crc32fast::hash(key.as_bytes()));
        key.push_str(&checksum);
        ApiKey { key, environment }
    }

    /// Checks prefix, length, alphabet and checksum. Costs no I/O.
    pub fn parse(s: &str) -> Result<Self, ApiKeyFormatError> {
        let environment = if s.starts_with(Environment::Sandbox.api_key_prefix()) {
            Environment::Sandbox
        } else if s.starts_with(Environment::Live.api_key_prefix()) {
            Environment::Live
        } else {
            return Err(ApiKeyFormatError::Prefix);
        };
        if s.len() != API_KEY_LEN {
            return Err(ApiKeyFormatError::Length);
        }
        let rest = &s.as_bytes()[PREFIX_LEN..];
        if !rest.iter().all(u8::is_ascii_alphanumeric) {
            return Err(ApiKeyFormatError::Charset);
        }
        let (head, checksum) = s.split_at(API_KEY_LEN - CHECKSUM_LEN);
        let expected = encode_checksum(crc32fast::hash(head.as_bytes()));
        if !crate::secret::ct_eq(expected.as_bytes(), checksum.as_bytes()) {
            return Err(ApiKeyFormatError::Checksum);
        }
        Ok(ApiKey {
            key: s.to_owned(),
            environment,
        })
    }

    /// Whether a presented bearer value looks like an API key rather than a JWT.
    pub fn looks_like_api_key(s: &str) -> bool {
        s.starts_with("cf_")
    }

    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// Lower-case hex SHA-256 of the whole key: what the database stores and is searched by.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.key)
    }

    /// The prefix, stars, and the last four characters, e.g. `cf_sand_********17a0`.
    pub fn masked(&self) -> String {
        let last4 = &self.key[API_KEY_LEN - 4..];
        format!("{}********{}", self.environment.api_key_prefix(), last4)
    }

    /// The plaintext, for showing once at creation.
    pub fn expose(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

fn encode_checksum(mut value: u32) -> String {
    // 62^6 > 2^32, so six base62 digits hold every CRC-32 value; fixed width keeps the
    // encoding injective.
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_parse_and_carry_their_environment() {
        let sand = ApiKey::generate(Environment::Sandbox);
        assert!(sand.expose().starts_with("cf_sand_"));
        assert_eq!(sand.expose().len(), API_KEY_LEN);
        assert_eq!(
            ApiKey::parse(sand.expose()).unwrap().environment(),
            Environment::Sandbox
        );
        let live = ApiKey::generate(Environment::Live);
        assert!(live.expose().starts_with("cf_live_"));
        assert_eq!(
            ApiKey::parse(live.expose()).unwrap().environment(),
            Environment::Live
        );
    }

    #[test]
    fn keys_are_unique() {
        let a = ApiKey::generate(Environment::Live);
        let b = ApiKey::generate(Environment::Live);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn masked_form_shows_prefix_and_last_four_only() {
        let key = ApiKey::generate(Environment::Sandbox);
        let masked = key.masked();
        assert!(masked.starts_with("cf_sand_********"));
        assert_eq!(
            &masked[masked.len() - 4..],
            &key.expose()[API_KEY_LEN - 4..]
        );
        assert_eq!(masked.len(), 8 + 8 + 4);
        assert!(!format!("{key:?}").contains(&key.expose()[8..40]));
    }

    #[test]
    fn digest_is_hex_sha256() {
        let key = ApiKey::generate(Environment::Live);
        let d = key.digest();
        assert_eq!(d.as_str().len(), 64);
        assert!(d.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn malformed_keys_get_precise_errors() {
        let key = ApiKey::generate(Environment::Sandbox);
        let s = key.expose();
        assert_eq!(ApiKey::parse("cf_test_abc"), Err(ApiKeyFormatError::Prefix));
        assert_eq!(
            ApiKey::parse(&s[..s.len() - 1]),
            Err(ApiKeyFormatError::Length)
        );
        let mut bad = s.to_string();
        bad.replace_range(20..21, "-");
        assert_eq!(ApiKey::parse(&bad), Err(ApiKeyFormatError::Charset));
        // Switching the environment prefix invalidates the checksum too.
        let swapped = s.replacen("cf_sand_", "cf_live_", 1);
        assert_eq!(ApiKey::parse(&swapped), Err(ApiKeyFormatError::Checksum));
    }

    #[test]
    fn checksum_encoding_is_fixed_width() {
        assert_eq!(encode_checksum(0), "000000");
        assert_eq!(encode_checksum(u32::MAX).len(), 6);
    }

    proptest! {
        #[test]
        fn any_single_character_change_fails_the_checksum(pos in 0usize..API_KEY_LEN, pick in 0usize..62, live in any::<bool>()) {
            let env = if live { Environment::Live } else { Environment::Sandbox };
            let key = ApiKey::generate(env);
            let mut bytes = key.expose().as_bytes().to_vec();
            let replacement = BASE62[pick];
            prop_assume!(bytes[pos] != replacement);
            bytes[pos] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(ApiKey::parse(&changed).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(s in ".{0,80}") {
            let _ = ApiKey::parse(&s);
        }
    }
}
