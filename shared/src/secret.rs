//! Secrets as their own types: the plaintext ([`Secret`]), redacted when printed and compared
//! in constant time; what is stored of it ([`SecretDigest`], which can only hold a digest);
//! and a secret just made ([`NewSecret`]: the plaintext to show once, and the digest to
//! store), as crates.io's `NewSecureToken` / `SecureToken`. API keys, client secrets,
//! console sessions and setup links all go through these.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A plaintext secret (client secret, API key, admin token). `Debug` and `Display` never show
/// it, so it cannot leak through a log line or an error message by accident. There is no
/// `PartialEq`: `==` on strings stops at the first differing byte, so comparing a secret goes
/// through [`Secret::ct_eq`] (constant time) or a hash.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plaintext. Call sites are few and deliberate: hashing, and showing it once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this secret, compared in constant time.
    pub fn ct_eq(&self, candidate: &str) -> bool {
        ct_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// The stored form of a secret: a SHA-256 digest, the only form stored or compared. Made only
/// from a plaintext (there is no constructor from arbitrary text), so a plaintext can never
/// be stored by mistake in its place.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretDigest(String);

/// How a stored client-secret digest begins (a bcrypt hash from before digests begins `$2`).
pub const CLIENT_SECRET_DIGEST_PREFIX: &str = "sha256:";

impl SecretDigest {
    /// Lower-case hex SHA-256: `api_keys.key_digest`, console session ids, setup-link tokens.
    pub fn of(secret: &str) -> SecretDigest {
        SecretDigest(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// `sha256:` + base64(SHA-256): `applications.secret_hash`. Another encoding of the same
    /// digest, kept because rows are stored in it (and the prefix tells them from bcrypt).
    pub fn of_client_secret(secret: &str) -> SecretDigest {
        SecretDigest(format!(
            "{CLIENT_SECRET_DIGEST_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(secret.as_bytes()))
        ))
    }

    /// The text stored (and looked up by).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether `stored` is this digest, compared in constant time.
    pub fn ct_eq(&self, stored: &str) -> bool {
        ct_eq(self.0.as_bytes(), stored.as_bytes())
    }
}

/// Not the digest either: it is never logged (ARCHITECTURE.md: no hash in an event or a log).
impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest([REDACTED])")
    }
}

/// A secret just made: the plaintext, shown once (in the answer that made it), and its digest,
/// the only part stored. Its `Debug` shows neither.
pub struct NewSecret {
    plaintext: Secret,
    digest: SecretDigest,
}

impl NewSecret {
    /// `plaintext` with its digest as `digest` computes it ([`SecretDigest::of`] or
    /// [`SecretDigest::of_client_secret`]), so that the two always match.
    pub fn new(plaintext: Secret, digest: fn(&str) -> SecretDigest) -> NewSecret {
        let digest = digest(plaintext.expose());
        NewSecret { plaintext, digest }
    }

    /// A fresh 256-bit token ([`crate::random::random_token`]) and its hex digest: console
    /// sessions and setup links.
    pub fn random_token() -> NewSecret {
        NewSecret::new(Secret::new(crate::random::random_token()), SecretDigest::of)
    }

    pub fn plaintext(&self) -> &Secret {
        &self.plaintext
    }

    pub fn digest(&self) -> &SecretDigest {
        &self.digest
    }

    pub fn into_parts(self) -> (Secret, SecretDigest) {
        (self.plaintext, self.digest)
    }
}

impl fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewSecret([REDACTED])")
    }
}

/// Constant-time equality of two byte strings. Lengths are not secret here: every value we
/// compare has a fixed, public length (digests) or leaks nothing through its length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_secret_compares_in_constant_time_by_content() {
        let s = Secret::new("hunter2");
        assert!(s.ct_eq("hunter2"));
        assert!(!s.ct_eq("hunter3"));
        assert!(!s.ct_eq("hunter"));
    }

    #[test]
    fn a_new_secret_stores_only_its_digest_and_prints_neither() {
        let new = NewSecret::random_token();
        let plain = new.plaintext().expose().to_owned();
        assert_eq!(new.digest(), &SecretDigest::of(&plain));
        assert_eq!(new.digest().as_str().len(), 64);
        assert!(!new.digest().as_str().contains(&plain));
        assert_ne!(new.digest(), NewSecret::random_token().digest());
        assert!(new.digest().ct_eq(SecretDigest::of(&plain).as_str()));
        for shown in [format!("{new:?}"), format!("{:?}", new.digest())] {
            assert!(!shown.contains(&plain) && !shown.contains(new.digest().as_str()));
        }
    }

    #[test]
    fn client_secret_digests_are_prefixed_base64_and_bind_every_byte() {
        let d = SecretDigest::of_client_secret("cfsec_abc");
        assert!(d.as_str().starts_with(CLIENT_SECRET_DIGEST_PREFIX));
        assert_eq!(d.as_str().len(), CLIENT_SECRET_DIGEST_PREFIX.len() + 44);
        assert_ne!(
            SecretDigest::of_client_secret(&"a".repeat(100)),
            SecretDigest::of_client_secret(&"a".repeat(99))
        );
    }

    #[test]
    fn ct_eq_compares_content() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
