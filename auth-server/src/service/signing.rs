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
use shared::changes::ChangeKind;
use shared::claims::RETIRED_KEY_PUBLISHED_SECS;
use shared::db::{Db, DbError};

use super::audit::{self, AuditContext, AuditEvent, AuditKeys, Feed};
use crate::db::signing_keys::SigningKeyRow;
use crate::kek::{self, Kek};
use serde_json::json;

/// Why the signing keys could not be loaded, refreshed or stored. The message names the key
/// (its `kid`), never key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot open private signing key {kid}: {source}")]
    Open { kid: String, source: kek::OpenError },
    #[error("public key {0} is corrupt")]
    CorruptPublicKey(String),
    #[error("no active signing key")]
    NoActiveKey,
    #[error("could not create a signing key")]
    NotCreated,
    #[error("cannot read signing keys: {0}")]
    Read(DbError),
    #[error("cannot re-seal signing key {kid}: {source}")]
    Reseal { kid: String, source: DbError },
    #[error("cannot store the new signing key: {0}")]
    Store(DbError),
    #[error("cannot prepare the audit chain: {0}")]
    AuditChain(DbError),
    #[error("cannot re-seal TOTP secrets: {0}")]
    ResealTotp(DbError),
    #[error("cannot render the JWK set: {0}")]
    Jwks(#[from] serde_json::Error),
}

/// The one algorithm this server signs with. Never HS*.
pub const ALGORITHM: Algorithm = shared::verify::ALGORITHM;
const ALGORITHM_NAME: &str = "EdDSA";

/// How long after retirement a key is still published, in microseconds.
pub const fn retired_publish_window_micros() -> i64 {
    RETIRED_KEY_PUBLISHED_SECS * 1_000_000
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
    fingerprint: Vec<(String, Option<i64>)>,
}

impl KeySet {
    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.public
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| &k.decoding)
    }
}

/// The key-encryption keys this replica holds: `current` seals; `current` and `previous` (during
/// a KEK rotation) open.
#[derive(Debug, Clone)]
pub struct KekRing {
    pub current: Kek,
    pub previous: Option<Kek>,
}

impl KekRing {
    pub fn new(current: Kek, previous: Option<Kek>) -> Self {
        KekRing { current, previous }
    }

    /// The audit chain's keys, derived from these KEKs.
    pub fn audit_keys(&self) -> AuditKeys {
        AuditKeys::new(&self.current, self.previous.as_ref())
    }

    /// The PKCS#8 DER of a stored private key.
    fn open(&self, row: &SigningKeyRow) -> Result<Vec<u8>, SigningError> {
        let opened = match kek::sealed_with(&row.private_key) {
            // Written before keys were sealed: plaintext base64 PKCS#8 (re-sealed at start).
            None => STANDARD
                .decode(&row.private_key)
                .map_err(|_| kek::OpenError::Corrupt),
            Some(id) => match &self.previous {
                Some(prev) if prev.id() == id && self.current.id() != id => {
                    prev.open(&row.kid, &row.private_key)
                }
                _ => self.current.open(&row.kid, &row.private_key),
            },
        };
        opened.map_err(|source| SigningError::Open {
            kid: row.kid.clone(),
            source,
        })
    }

    /// Whether a stored key must be re-sealed with the current KEK (legacy plaintext, or sealed
    /// with the previous KEK).
    fn needs_reseal(&self, row: &SigningKeyRow) -> bool {
        kek::sealed_with(&row.private_key) != Some(self.current.id())
    }
}

/// The keys in memory, replaced wholesale when the database says they changed.
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
    keks: KekRing,
}

impl KeyStore {
    /// Loads the published keys, generating the first one when the database has none, and
    /// brings everything the KEK protects under the current KEK: the audit chain is re-keyed
    /// (or anchored, for a trail from before keyed chains: `audit::prepare`), then every key
    /// stored in plaintext or under the previous KEK is re-sealed, and so is every operator's
    /// TOTP secret (`service::reseal`). Blocking: call at start-up.
    pub fn load_or_create(db: &Db, keks: &KekRing, now: i64) -> Result<KeyStore, SigningError> {
        audit::prepare_chain(db, &keks.audit_keys(), now).map_err(SigningError::AuditChain)?;
        reseal_all(db, keks, now)?;
        super::reseal::reseal_totp_secrets(db, &keks.current, keks.previous.as_ref(), now)
            .map_err(SigningError::ResealTotp)?;
        let set = load_set(db, keks, now, true)?;
        Ok(KeyStore {
            current: RwLock::new(Arc::new(set)),
            keks: keks.clone(),
        })
    }

    /// Re-reads keys from the database (blocking), picking up rotations and revocations done
    /// elsewhere. The key set is rebuilt only when it changed.
    pub fn refresh(&self, db: &Db, now: i64) -> Result<(), SigningError> {
        let rows = published_rows(db, now)?;
        if fingerprint(&rows) == self.current().fingerprint {
            return Ok(());
        }
        let set = build_set(&rows, &self.keks)?;
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

/// What identifies a published key set: each key and whether it is retired.
fn fingerprint(rows: &[SigningKeyRow]) -> Vec<(String, Option<i64>)> {
    rows.iter().map(|r| (r.kid.clone(), r.retired_at)).collect()
}

fn published_rows(db: &Db, now: i64) -> Result<Vec<SigningKeyRow>, SigningError> {
    db.run_blocking(move |c| SigningKeyRow::published(c, now - retired_publish_window_micros()))
        .map_err(SigningError::Read)
}

fn reseal_all(db: &Db, keks: &KekRing, now: i64) -> Result<(), SigningError> {
    let rows = db
        .run_blocking(SigningKeyRow::all)
        .map_err(SigningError::Read)?;
    for row in rows.iter().filter(|r| keks.needs_reseal(r)) {
        let der = keks.open(row)?;
        let sealed = keks.current.seal(&row.kid, &der);
        let (kid, old) = (row.kid.clone(), row.private_key.clone());
        let ctx = AuditContext::system(&keks.audit_keys().current);
        let event = AuditEvent::success(
            "signing_key.reseal",
            &row.kid,
            json!({"kek_id": keks.current.id()}),
        );
        db.run_blocking(move |c| {
            use diesel::Connection;
            c.transaction(|c| {
                let n = SigningKeyRow::replace_private_key(c, &kid, &old, &sealed)?;
                // Only the stored form changed: nothing for the change feed.
                if n > 0 {
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                }
                Ok(n)
            })
        })
        .map_err(|source| SigningError::Reseal {
            kid: row.kid.clone(),
            source,
        })?;
        tracing::info!(
            "signing key {} re-sealed with KEK {}",
            row.kid,
            keks.current.id()
        );
    }
    Ok(())
}

fn load_set(
    db: &Db,
    keks: &KekRing,
    now: i64,
    create_if_missing: bool,
) -> Result<KeySet, SigningError> {
    for _ in 0..2 {
        let rows = published_rows(db, now)?;
        if rows.iter().any(|r| r.retired_at.is_none()) {
            return build_set(&rows, keks);
        }
        if !create_if_missing {
            return Err(SigningError::NoActiveKey);
        }
        let row = generate(now, &keks.current);
        let audit_key = keks.audit_keys().current;
        tracing::info!("no active signing key: generated {}", row.kid);
        db.run_blocking(move |c| {
            use diesel::Connection;
            c.transaction(|c| {
                SigningKeyRow::insert(c, &row)?;
                let event = AuditEvent::success("signing_key.create", &row.kid, json!({}));
                let feed = Feed::Credential(ChangeKind::SigningKey, &row.kid);
                audit::change(c, &AuditContext::system(&audit_key), feed, &event, now)
            })
        })
        .map_err(SigningError::Store)?;
    }
    Err(SigningError::NotCreated)
}

fn build_set(rows: &[SigningKeyRow], keks: &KekRing) -> Result<KeySet, SigningError> {
    // Rows come newest first: the newest active key signs. Replicas that raced to create the
    // first key therefore converge on the same one.
    let active_row = rows
        .iter()
        .find(|r| r.retired_at.is_none())
        .ok_or(SigningError::NoActiveKey)?;
    let der = keks.open(active_row)?;
    let active = ActiveKey {
        kid: active_row.kid.clone(),
        encoding: EncodingKey::from_ed_der(&der),
    };
    let mut public = Vec::with_capacity(rows.len());
    let mut jwks = Vec::with_capacity(rows.len());
    for row in rows {
        if row.algorithm != ALGORITHM_NAME {
            tracing::warn!(
                "skipping signing key {} with unsupported algorithm",
                row.kid
            );
            continue;
        }
        let decoding = DecodingKey::from_ed_components(&row.public_key)
            .map_err(|_| SigningError::CorruptPublicKey(row.kid.clone()))?;
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
    let jwks_json = serde_json::to_string(&serde_json::json!({ "keys": jwks }))?;
    Ok(KeySet {
        active,
        public,
        jwks_json,
        fingerprint: fingerprint(rows),
    })
}

/// A new Ed25519 key as a row, its private half sealed with `kek`. The `kid` is the RFC 7638
/// JWK thumbprint.
pub fn generate(now: i64, kek: &Kek) -> SigningKeyRow {
    let signing = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let der = signing
        .to_pkcs8_der()
        .expect("invariant: encoding a valid Ed25519 key as PKCS#8 cannot fail");
    let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
    let kid = thumbprint(&x);
    SigningKeyRow {
        private_key: kek.seal(&kid, der.as_bytes()),
        kid,
        algorithm: ALGORITHM_NAME.to_owned(),
        public_key: x,
        created_at: now,
        retired_at: None,
        revoked_at: None,
    }
}

/// RFC 7638 thumbprint of an Ed25519 JWK: SHA-256 of the required members in lexical order.
pub fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Adds a new active key and retires the others (which stay published). Returns the new kid.
pub fn rotate(db: &Db, ctx: &AuditContext, kek: &Kek, now: i64) -> Result<String, DbError> {
    let row = generate(now, kek);
    let kid = row.kid.clone();
    let ctx = ctx.clone();
    let event = AuditEvent::success("signing_key.rotate", &row.kid, json!({}));
    db.run_blocking(move |c| {
        use diesel::Connection;
        c.transaction(|c| {
            SigningKeyRow::insert(c, &row)?;
            let n = SigningKeyRow::retire_all_but(c, &row.kid, now)?;
            let feed = Feed::Credential(ChangeKind::SigningKey, &row.kid);
            audit::change(c, &ctx, feed, &event, now)?;
            Ok(n)
        })
    })?;
    Ok(kid)
}

/// Takes a key out of service at once (a suspected compromise): it stops being published, the
/// resource API refuses every token it signed within the revocation bound, and when it was the
/// active key a new one takes over first. Returns the kid of the key now signing.
pub fn revoke(
    db: &Db,
    ctx: &AuditContext,
    kek: &Kek,
    kid: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    let replacement = generate(now, kek);
    let kid = kid.to_owned();
    let ctx = ctx.clone();
    let event = AuditEvent::success(
        "signing_key.revoke",
        &kid,
        json!({"replacement": replacement.kid}),
    );
    db.run_blocking(move |c| {
        use diesel::Connection;
        c.transaction(|c| {
            let Some(target) = SigningKeyRow::find(c, &kid)? else {
                return Ok(None);
            };
            if target.retired_at.is_none() {
                SigningKeyRow::insert(c, &replacement)?;
                SigningKeyRow::retire_all_but(c, &replacement.kid, now)?;
            }
            // Unpublished at once, and every token it signed refused (`revoked_at`).
            SigningKeyRow::revoke(c, &kid, now)?;
            let feed = Feed::Credential(ChangeKind::SigningKey, &kid);
            audit::change(c, &ctx, feed, &event, now)?;
            SigningKeyRow::active_kid(c)
        })
    })
}

/// A signing key as `auth-server keys list` shows it: never the private half.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SigningKeyView {
    pub kid: String,
    pub algorithm: String,
    /// `active`, `retired (still published)`, `retired` or `revoked`.
    pub status: &'static str,
    pub created_at: String,
    pub retired_at: Option<String>,
    /// When `keys revoke` took it out of service.
    pub revoked_at: Option<String>,
}

/// Every signing key, newest first, with its status at `now`.
pub async fn list(db: &Db, now: i64) -> Result<Vec<SigningKeyView>, DbError> {
    let rows = db.run(SigningKeyRow::all).await?;
    let window = retired_publish_window_micros();
    Ok(rows
        .into_iter()
        .map(|r| SigningKeyView {
            status: match (r.revoked_at, r.retired_at) {
                (Some(_), _) => "revoked",
                (None, None) => "active",
                (None, Some(t)) if t + window > now => "retired (still published)",
                (None, Some(_)) => "retired",
            },
            created_at: shared::time::rfc3339(r.created_at),
            retired_at: r.retired_at.map(shared::time::rfc3339),
            revoked_at: r.revoked_at.map(shared::time::rfc3339),
            kid: r.kid,
            algorithm: r.algorithm,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KekRing {
        KekRing::new(Kek::generate(), None)
    }

    #[test]
    fn generated_key_signs_and_its_public_half_verifies() {
        let keks = ring();
        let row = generate(0, &keks.current);
        let set = build_set(std::slice::from_ref(&row), &keks).unwrap();
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
        let row = generate(0, &Kek::generate());
        assert!(!format!("{row:?}").contains(&row.private_key));
    }

    #[test]
    fn stored_private_key_is_sealed_not_pkcs8() {
        let keks = ring();
        let row = generate(0, &keks.current);
        assert!(row.private_key.starts_with("enc1:"));
        assert!(!keks.needs_reseal(&row));
        // Another KEK cannot open it, and says the KEK is wrong.
        let other = ring();
        let err = build_set(std::slice::from_ref(&row), &other).err().unwrap();
        assert!(matches!(err, SigningError::Open { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("SIGNING_KEY_ENCRYPTION_KEY is wrong"),
            "{err}"
        );
        // During a KEK rotation the previous KEK still opens it, and it is marked for re-sealing.
        let rotated = KekRing::new(Kek::generate(), Some(keks.current.clone()));
        assert!(build_set(std::slice::from_ref(&row), &rotated).is_ok());
        assert!(rotated.needs_reseal(&row));
    }
}

/// Lets sibling modules' tests build a key set without a database.
#[cfg(test)]
pub(crate) mod tests_support {
    pub fn build() -> super::KeySet {
        let kek = super::Kek::generate();
        let row = super::generate(0, &kek);
        super::build_set(&[row], &super::KekRing::new(kek, None)).unwrap()
    }
}
