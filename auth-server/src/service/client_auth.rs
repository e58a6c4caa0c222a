//! Client authentication for the token, introspection and revocation endpoints.
//!
//! The database row is always read (it is the truth about disabled, deleted and rotated
//! clients, on every replica). The slow part, bcrypt, is skipped for a client that presented
//! the same correct secret recently: a bounded in-memory map from SHA-256(client_id, secret) to
//! the bcrypt hash it verified against. A hit counts only while that hash is still the row's
//! current hash (or its previous hash inside the grace period), so a rotation, a disable or a
//! deletion takes effect at once. A wrong secret never hits the map and always pays for bcrypt;
//! an unknown client pays the same, against a dummy hash.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use shared::db::Db;
use shared::Secret;

use super::secrets;
use super::throttle::FailureThrottle;
use crate::db::applications::ApplicationRow;
use crate::error::{Error, Result};

/// A verified credential is trusted without bcrypt for this long.
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
const CACHE_MAX: usize = 10_000;
/// Longer secrets are rejected before any hashing.
const MAX_SECRET_LEN: usize = 512;

/// Credentials as presented, and how (Basic adds a challenge to 401 answers).
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Secret,
    pub basic: bool,
}

pub struct ClientAuthenticator {
    dummy_hash: String,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    throttle: FailureThrottle,
}

struct Verified {
    hash: String,
    at: Instant,
}

impl ClientAuthenticator {
    /// `cost` must be the cost new secrets are hashed with, so that the dummy verify of an
    /// unknown client costs what a real one does.
    pub fn new(cost: u32) -> Self {
        let dummy = secrets::generate_client_secret();
        let dummy_hash = secrets::hash_secret(&dummy, cost)
            .expect("invariant: bcrypt accepts a 44-byte input at a validated cost");
        ClientAuthenticator {
            dummy_hash,
            verified: Mutex::new(HashMap::new()),
            throttle: FailureThrottle::new(),
        }
    }

    /// Authenticates a client. `now_us` is wall-clock Unix microseconds (grace periods),
    /// `now` the monotonic clock (cache and throttle).
    pub async fn authenticate(
        &self,
        db: &Db,
        creds: ClientCredentials,
        now_us: i64,
        now: Instant,
    ) -> Result<ApplicationRow> {
        let basic = creds.basic;
        if !plausible_client_id(&creds.client_id) || creds.secret.expose().len() > MAX_SECRET_LEN {
            return Err(Error::InvalidClient { basic });
        }
        let client_id = creds.client_id.clone();
        let row = db.run(move |c| ApplicationRow::find(c, &client_id)).await?;
        let row = row.filter(|r| !r.disabled && r.deleted_at.is_none());
        let candidates: Vec<String> = match &row {
            Some(r) => {
                let mut v = vec![r.secret_hash.clone()];
                if let (Some(prev), Some(until)) =
                    (&r.previous_secret_hash, r.previous_secret_expires_at)
                {
                    if until > now_us {
                        v.push(prev.clone());
                    }
                }
                v
            }
            None => Vec::new(),
        };

        let key = cache_key(&creds.client_id, creds.secret.expose());
        if let Some(row) = &row {
            if self.cached_hash_matches(&key, &candidates, now) {
                return Ok(row.clone());
            }
        }
        if let Some(wait) = self.throttle.check(&creds.client_id, now) {
            return Err(Error::Throttled { retry_after: wait });
        }

        // Exactly two bcrypt verifications for every attempt that the cache did not answer,
        // padded with the dummy hash: an unknown client, a wrong secret, and a wrong secret
        // during a rotation grace period (two real hashes) all cost the same.
        let real = candidates.len();
        let mut to_check = candidates.clone();
        to_check.resize(2, self.dummy_hash.clone());
        let secret = creds.secret.clone();
        let matched: Option<String> = actix_web::web::block(move || {
            // Verify all of them (no short-circuit), then accept only a real candidate.
            let results: Vec<bool> = to_check
                .iter()
                .map(|h| secrets::verify_secret(secret.expose(), h))
                .collect();
            to_check
                .into_iter()
                .zip(results)
                .take(real)
                .find(|(_, ok)| *ok)
                .map(|(h, _)| h)
        })
        .await
        .map_err(|_| Error::Internal("bcrypt task cancelled".into()))?;

        match (row, matched) {
            (Some(row), Some(hash)) => {
                self.remember(key, hash, now);
                Ok(row)
            }
            _ => {
                self.throttle.record_failure(&creds.client_id, now);
                Err(Error::InvalidClient { basic })
            }
        }
    }

    fn cached_hash_matches(&self, key: &[u8; 32], candidates: &[String], now: Instant) -> bool {
        let map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(v) => {
                now.saturating_duration_since(v.at) < CACHE_TTL
                    && candidates
                        .iter()
                        .any(|c| shared::secret::ct_eq(c.as_bytes(), v.hash.as_bytes()))
            }
            None => false,
        }
    }

    fn remember(&self, key: [u8; 32], hash: String, now: Instant) {
        let mut map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_MAX {
            map.retain(|_, v| now.saturating_duration_since(v.at) < CACHE_TTL);
            if map.len() >= CACHE_MAX {
                map.clear();
            }
        }
        map.insert(key, Verified { hash, at: now });
    }
}

/// Client ids are `app_` + base62. Anything else (control characters, NUL, which PostgreSQL
/// refuses in text, or absurd lengths) names no client and never reaches the database.
pub fn plausible_client_id(id: &str) -> bool {
    shared::validate::plausible_id("app", id)
}

/// SHA-256 over the length-prefixed id and the secret, so that no two (id, secret) pairs
/// share a key.
fn cache_key(client_id: &str, secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((client_id.len() as u64).to_be_bytes());
    h.update(client_id.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_client_ids_are_looked_up() {
        assert!(plausible_client_id("app_abc123"));
        assert!(!plausible_client_id("app_"));
        assert!(!plausible_client_id("app_a\0b"));
        assert!(!plausible_client_id("x' OR 1=1"));
        assert!(!plausible_client_id(&format!("app_{}", "a".repeat(200))));
    }

    #[test]
    fn cache_keys_separate_id_and_secret() {
        assert_ne!(cache_key("ab", "c"), cache_key("a", "bc"));
        assert_eq!(cache_key("a", "b"), cache_key("a", "b"));
    }

    #[test]
    fn cached_hash_counts_only_while_it_is_a_candidate() {
        let auth = ClientAuthenticator::new(4);
        let key = cache_key("app", "s");
        let now = Instant::now();
        auth.remember(key, "H1".into(), now);
        assert!(auth.cached_hash_matches(&key, &["H1".into()], now));
        // After rotation the row's hash is H2: the cache no longer vouches.
        assert!(!auth.cached_hash_matches(&key, &["H2".into()], now));
        // And it expires.
        assert!(!auth.cached_hash_matches(&key, &["H1".into()], now + CACHE_TTL));
    }
}
