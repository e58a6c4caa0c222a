//! The key-encryption key (KEK) that seals private signing keys at rest.
//!
//! `SIGNING_KEY_ENCRYPTION_KEY` is 32 random bytes (standard base64). It lives only in the
//! environment (or a secret manager feeding it), never in the database: a copy of the database
//! alone yields no signing key. Each private key is sealed with XChaCha20-Poly1305 (random
//! 192-bit nonce) with the key's `kid` as associated data, so a sealed key cannot be moved onto
//! another row. The stored form is `enc1:<kek id>:<base64(nonce ‖ ciphertext)>`; the KEK id (a
//! digest of the KEK, not the KEK) lets a wrong KEK be reported as wrong instead of as a corrupt
//! key, and lets a rotation know which of two KEKs opens a row.
//!
//! Other keys are derived from the KEK with HKDF-SHA256 ([`Kek::derive_key`], salt `caseforge
//! kek derivation v1`) under a fixed purpose (`info`) each, so that one secret in the
//! environment serves every purpose without any two purposes sharing a key: e.g. the audit
//! chain's MAC key, purpose `caseforge audit-chain hmac-sha256 v1` (`service::audit`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::aead::Key;

const PREFIX: &str = "enc1";

/// A key-encryption key. `Debug` never shows it.
#[derive(Clone)]
pub struct Kek {
    key: Key,
    id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek(id {})", self.id)
    }
}

/// Why a stored private key could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(
        "it was sealed with another key-encryption key (id {stored}; the configured key has id \
         {configured}): SIGNING_KEY_ENCRYPTION_KEY is wrong"
    )]
    WrongKek { stored: String, configured: String },
    #[error("it is corrupt (its seal does not verify)")]
    Corrupt,
}

impl Kek {
    /// Parses standard base64 of exactly 32 bytes. The message never repeats the value.
    pub fn parse(raw: &str) -> Result<Kek, String> {
        let bytes = STANDARD
            .decode(raw.trim())
            .map_err(|_| "is not standard base64 (generate one with `openssl rand -base64 32`)")?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            "must be exactly 32 bytes, base64-encoded (generate one with `openssl rand -base64 32`)"
        })?;
        Ok(Kek::from_bytes(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Kek {
        let mut h = Sha256::new();
        h.update(b"caseforge signing-key KEK id\0");
        h.update(bytes);
        let id = hex::encode(&h.finalize()[..6]);
        Kek {
            key: Key::from(bytes),
            id,
        }
    }

    /// A fresh random KEK (tests and `scripts/dev.sh`).
    pub fn generate() -> Kek {
        Kek::from_bytes(rand::random())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A 32-byte key for one `purpose`, derived from the KEK with HKDF-SHA256 (RFC 5869; the
    /// purpose is the `info`, so keys of different purposes are independent). Like the KEK, a
    /// derived key never reaches the database.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"caseforge kek derivation v1"), &self.key);
        let mut out = [0u8; 32];
        hk.expand(purpose.as_bytes(), &mut out)
            .expect("invariant: 32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// Seals `plaintext` for the row `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> String {
        let blob = shared::aead::seal(&self.key, kid.as_bytes(), plaintext);
        format!("{PREFIX}:{}:{blob}", self.id)
    }

    /// Opens a value written by [`Kek::seal`] for the row `kid`.
    pub fn open(&self, kid: &str, stored: &str) -> Result<Vec<u8>, OpenError> {
        let (kek_id, blob) = parse_sealed(stored).ok_or(OpenError::Corrupt)?;
        if kek_id != self.id {
            return Err(OpenError::WrongKek {
                stored: kek_id.to_owned(),
                configured: self.id.clone(),
            });
        }
        shared::aead::open(&self.key, kid.as_bytes(), blob).ok_or(OpenError::Corrupt)
    }
}

/// `(kek id, base64 blob)` of a sealed value; `None` for anything else (e.g. a legacy plaintext
/// PKCS#8 row written before keys were sealed).
pub fn parse_sealed(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix(PREFIX)?.strip_prefix(':')?;
    rest.split_once(':')
}

/// The KEK id a stored value was sealed with, if it is sealed.
pub fn sealed_with(stored: &str) -> Option<&str> {
    parse_sealed(stored).map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_with_its_kek_and_kid_only() {
        let kek = Kek::generate();
        let sealed = kek.seal("kid-1", b"private key bytes");
        assert!(sealed.starts_with("enc1:"));
        assert!(!sealed.contains("private"));
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"private key bytes");
        // Moved to another row: the associated data no longer matches.
        assert_eq!(kek.open("kid-2", &sealed), Err(OpenError::Corrupt));
        // Another KEK is reported as the wrong KEK, not as corruption.
        let other = Kek::generate();
        assert!(matches!(
            other.open("kid-1", &sealed),
            Err(OpenError::WrongKek { .. })
        ));
        // A flipped byte is corruption.
        let mut bad = sealed.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(kek.open("kid-1", &bad).is_err());
    }

    #[test]
    fn derived_keys_depend_on_the_kek_and_the_label_only() {
        let kek = Kek::from_bytes([1; 32]);
        assert_eq!(
            kek.derive_key("a"),
            Kek::from_bytes([1; 32]).derive_key("a")
        );
        assert_ne!(kek.derive_key("a"), kek.derive_key("b"));
        assert_ne!(
            kek.derive_key("a"),
            Kek::from_bytes([2; 32]).derive_key("a")
        );
        assert_ne!(kek.derive_key("a"), [1; 32]);
    }

    #[test]
    fn parse_demands_32_bytes_of_base64_and_never_echoes_it() {
        let good = STANDARD.encode([7u8; 32]);
        assert!(Kek::parse(&good).is_ok());
        let short = STANDARD.encode([7u8; 16]);
        let err = Kek::parse(&short).unwrap_err();
        assert!(err.contains("32 bytes") && !err.contains(&short));
        assert!(Kek::parse("not base64 !!").is_err());
        // Same bytes, same id; the id is not the key.
        let a = Kek::parse(&good).unwrap();
        assert_eq!(a.id(), Kek::parse(&good).unwrap().id());
        assert!(!format!("{a:?}").contains(&good));
    }
}
