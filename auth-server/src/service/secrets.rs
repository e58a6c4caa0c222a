//! Client secrets: generated, never chosen; shown once; stored as a SHA-256 digest
//! ([`shared::SecretDigest::of_client_secret`], made with the plaintext as a [`NewSecret`]).
//!
//! A client secret is 43 random base62 characters (≈ 256 bits) made here, never chosen by a
//! person, so a slow password hash adds nothing to it: nobody can enumerate 2^256 candidates
//! against a stolen digest at any speed (the reasoning that stores API keys, and GitHub's and
//! Stripe's tokens, as SHA-256). What a slow hash would cost is real: every replica's first
//! request per client waited for bcrypt (docs/PERFORMANCE.md, "Tokens from cold"), and bcrypt
//! was the lever of a CPU denial of service. So `applications.secret_hash` holds
//! `sha256:` + base64(SHA-256(secret)), compared in constant time.
//!
//! Rows written before that hold bcrypt(base64(SHA-256(secret))) — the same digest, bcrypt'd so
//! that bcrypt's 72-byte limit ignores no byte. They still verify, and are replaced by the digest
//! at their first successful use ([`super::client_auth`]).
//!
//! Operator passwords are chosen by people: they keep bcrypt ([`hash_secret`], [`verify_secret`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::secret::CLIENT_SECRET_DIGEST_PREFIX;
use shared::{NewSecret, Secret, SecretDigest};

use super::random_base62;

/// Prefix of every client secret, so that scanners can find leaked ones.
pub const CLIENT_SECRET_PREFIX: &str = "cfsec_";

/// A fresh client secret: prefix + 43 base62 characters (≈ 256 bits), with the digest
/// `applications.secret_hash` stores.
pub fn generate_client_secret() -> NewSecret {
    NewSecret::new(
        Secret::new(format!("{CLIENT_SECRET_PREFIX}{}", random_base62(43))),
        SecretDigest::of_client_secret,
    )
}

fn prehash(secret: &str) -> String {
    STANDARD.encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a stored client-secret hash is a digest (else a bcrypt hash from before digests).
pub fn is_digest(stored: &str) -> bool {
    stored.starts_with(CLIENT_SECRET_DIGEST_PREFIX)
}

/// bcrypt hash of the pre-hashed secret. Slow on purpose: call it off the async workers.
pub fn hash_secret(secret: &Secret, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(prehash(secret.expose()), cost)
}

/// The work factor a bcrypt hash was made with (`$2b$11$…` → 11).
pub fn hash_cost(hash: &str) -> Option<u32> {
    hash.split('$').nth(2)?.parse().ok()
}

/// Verifies `secret` against a stored hash; a malformed hash verifies as false.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    bcrypt::verify(prehash(secret), hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_long() {
        let (a, b) = (generate_client_secret(), generate_client_secret());
        let (a, b) = (a.plaintext(), b.plaintext());
        assert!(a.expose().starts_with(CLIENT_SECRET_PREFIX));
        assert_eq!(a.expose().len(), CLIENT_SECRET_PREFIX.len() + 43);
        assert!(!a.ct_eq(b.expose()));
    }

    #[test]
    fn verify_accepts_the_secret_and_nothing_else() {
        let s = generate_client_secret().into_parts().0;
        let h = hash_secret(&s, 4).unwrap();
        assert!(verify_secret(s.expose(), &h));
        assert!(!verify_secret(&format!("{}x", s.expose()), &h));
        let mut altered = s.expose().to_owned();
        altered.pop();
        altered.push('!');
        assert!(!verify_secret(&altered, &h));
        assert!(!verify_secret(s.expose(), "not-a-hash"));
    }

    #[test]
    fn client_secret_digests_are_told_apart_from_bcrypt_hashes() {
        let new = generate_client_secret();
        let d = new.digest().as_str();
        assert!(is_digest(d), "{d}");
        assert_eq!(
            new.digest(),
            &SecretDigest::of_client_secret(new.plaintext().expose())
        );
        // The bcrypt hashes of older rows are told apart by their prefix.
        assert!(!is_digest(&hash_secret(new.plaintext(), 4).unwrap()));
    }

    #[test]
    fn the_cost_is_read_from_the_hash() {
        let h = hash_secret(generate_client_secret().plaintext(), 5).unwrap();
        assert_eq!(hash_cost(&h), Some(5));
        assert_eq!(hash_cost("garbage"), None);
    }

    #[test]
    fn bytes_past_72_are_not_ignored() {
        let long = Secret::new("a".repeat(100));
        let h = hash_secret(&long, 4).unwrap();
        let mut tail_changed = "a".repeat(99);
        tail_changed.push('b');
        assert!(verify_secret(long.expose(), &h));
        assert!(!verify_secret(&tail_changed, &h));
        assert!(!verify_secret(&"a".repeat(72), &h));
    }
}
