//! Signing keys: Ed25519 (JWS `EdDSA`), generated on first start, stored in the database so
//! that every replica signs with the same key and tokens survive restarts, and published as a
//! JWK set. `rotate` makes a new key active; retired keys stay published until every token they
//! signed has expired.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};
use shared::claims::ACCESS_TOKEN_LIFETIME_SECS;
use shared::db::{Db, DbError};

use crate::db::signing_keys::SigningKeyRow;

/// The one algorithm this server signs with. Never HS*.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
const ALGORITHM_NAME: &str = "EdDSA";

/// A retired key stays published for a token lifetime plus this margin (clock skew, caches).
const PUBLISH_MARGIN_SECS: i64 = 300;

/// How long after retirement a key is still published, in microseconds.
pub const fn retired_publish_window_micros() -> i64 {
    (ACCESS_TOKEN_LIFETIME_SECS + PUBLISH_MARGIN_SECS) * 1_000_000
}

/// The private half, used to sign.
pub struct ActiveKey {
    pub kid: String,
    pub encoding: EncodingKey,
}

/// A published public key.
pub struct PublicKey {
    pub kid: String,
    pub decoding: DecodingKey,
}

/// A consistent snapshot: the key to sign with and every key to publish.
pub struct KeySet {
    pub active: ActiveKey,
    pub public: Vec<PublicKey>,
    /// The JWKS document, serialised once per refresh.
    pub jwks_json: String,
}

impl KeySet {
    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.public
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| &k.decoding)
    }
}

/// The keys in memory, replaced wholesale on refresh.
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
}

impl KeyStore {
    /// Loads the published keys, generating the first one when the database has none.
    /// Blocking: call at start-up.
    pub fn load_or_create(db: &Db, now: i64) -> Result<KeyStore, String> {
        let set = load_set(db, now, true)?;
        Ok(KeyStore {
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// Re-reads keys from the database (blocking), picking up rotations done elsewhere.
    pub fn refresh(&self, db: &Db, now: i64) -> Result<(), String> {
        let set = load_set(db, now, false)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn load_set(db: &Db, now: i64, create_if_missing: bool) -> Result<KeySet, String> {
    for _ in 0..2 {
        let rows = db
            .run_blocking(move |c| {
                SigningKeyRow::published(c, now - retired_publish_window_micros())
            })
            .map_err(|e| format!("cannot read signing keys: {e}"))?;
        if rows.iter().any(|r| r.retired_at.is_none()) {
            return build_set(&rows);
        }
        if !create_if_missing {
            return Err("no active signing key in the database".into());
        }
        let row = generate(now);
        log::info!("no active signing key: generated {}", row.kid);
        db.run_blocking(move |c| SigningKeyRow::insert(c, &row))
            .map_err(|e| format!("cannot store the new signing key: {e}"))?;
    }
    Err("could not create a signing key".into())
}

fn build_set(rows: &[SigningKeyRow]) -> Result<KeySet, String> {
    // Rows come newest first: the newest active key signs. Replicas that raced to create the
    // first key therefore converge on the same one.
    let active_row = rows
        .iter()
        .find(|r| r.retired_at.is_none())
        .ok_or("no active signing key")?;
    let der = STANDARD
        .decode(&active_row.private_key)
        .map_err(|_| format!("signing key {} is corrupt", active_row.kid))?;
    let active = ActiveKey {
        kid: active_row.kid.clone(),
        encoding: EncodingKey::from_ed_der(&der),
    };
    let mut public = Vec::with_capacity(rows.len());
    let mut jwks = Vec::with_capacity(rows.len());
    for row in rows {
        if row.algorithm != ALGORITHM_NAME {
            log::warn!(
                "skipping signing key {} with unsupported algorithm",
                row.kid
            );
            continue;
        }
        let decoding = DecodingKey::from_ed_components(&row.public_key)
            .map_err(|_| format!("public key {} is corrupt", row.kid))?;
        jwks.push(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": row.public_key,
            "kid": row.kid,
            "use": "sig",
            "alg": ALGORITHM_NAME,
        }));
        public.push(PublicKey {
            kid: row.kid.clone(),
            decoding,
        });
    }
    let jwks_json =
        serde_json::to_string(&serde_json::json!({ "keys": jwks })).map_err(|e| e.to_string())?;
    Ok(KeySet {
        active,
        public,
        jwks_json,
    })
}

/// A new Ed25519 key as a row. The `kid` is the RFC 7638 JWK thumbprint.
pub fn generate(now: i64) -> SigningKeyRow {
    let signing = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let der = signing
        .to_pkcs8_der()
        .expect("invariant: encoding a valid Ed25519 key as PKCS#8 cannot fail");
    let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
    SigningKeyRow {
        kid: thumbprint(&x),
        algorithm: ALGORITHM_NAME.to_owned(),
        private_key: STANDARD.encode(der.as_bytes()),
        public_key: x,
        created_at: now,
        retired_at: None,
    }
}

/// RFC 7638 thumbprint of an Ed25519 JWK: SHA-256 of the required members in lexical order.
pub fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Adds a new active key and retires the others (which stay published). Returns the new kid.
pub fn rotate(db: &Db, now: i64) -> Result<String, DbError> {
    let row = generate(now);
    let kid = row.kid.clone();
    db.run_blocking(move |c| {
        use diesel::Connection;
        c.transaction(|c| {
            SigningKeyRow::insert(c, &row)?;
            SigningKeyRow::retire_all_but(c, &row.kid, now)
        })
    })?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_its_public_half_verifies() {
        let row = generate(0);
        let set = build_set(std::slice::from_ref(&row)).unwrap();
        assert_eq!(set.active.kid, row.kid);
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(ALGORITHM),
            &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
            &set.active.encoding,
        )
        .unwrap();
        let mut v = jsonwebtoken::Validation::new(ALGORITHM);
        v.validate_aud = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            set.decoding_key(&row.kid).unwrap(),
            &v,
        );
        assert!(decoded.is_ok());
        assert!(set.jwks_json.contains(&row.kid));
        assert!(!set.jwks_json.contains(&row.private_key));
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 Appendix A.3.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn debug_of_a_key_row_hides_the_private_key() {
        let row = generate(0);
        assert!(!format!("{row:?}").contains(&row.private_key));
    }
}

/// Lets sibling modules' tests build a key set without a database.
#[cfg(test)]
pub(crate) mod tests_support {
    pub fn build(rows: &[super::SigningKeyRow]) -> super::KeySet {
        super::build_set(rows).unwrap()
    }
}
