//! Client authentication for the token, introspection and revocation endpoints.
//!
//! The database row is always read (it is the truth about disabled, deleted and rotated
//! clients, on every replica). The slow part, bcrypt, is skipped for a client that presented
//! the same correct secret recently: a bounded cache from SHA-256(client_id, secret) to the
//! bcrypt hash it verified against, kept while it is used (idle expiry). A hit counts only while
//! that hash is still the row's current hash (or its previous hash inside the grace period), so
//! a rotation, a disable or a deletion takes effect at once. A wrong secret never hits the cache
//! and always pays for bcrypt; an unknown client pays the same, against a dummy hash.
//!
//! bcrypt work is bounded and shared:
//! - at most `BCRYPT_CONCURRENCY` verifications run at once (a fair queue), so a flood of wrong
//!   secrets cannot take every core from token issuance for cached clients;
//! - concurrent requests with the same credentials share one verification (the cache's
//!   `try_get_with` coalesces them), so 64 connections of one client starting cold cost one
//!   bcrypt, not 64.
//!
//! Failures are throttled per `client_id` ([`FailureThrottle`]): ten in a burst, then one every
//! six seconds. Taking a failure token is atomic, so concurrent guesses cannot overrun the
//! burst. A throttled attempt is still verified — a correct secret is never refused by the
//! throttle — and only a wrong one is answered 429.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::Connection;
use moka::future::Cache;
use sha2::{Digest, Sha256};
use shared::changes::{self, ChangeKind};
use shared::db::Db;
use shared::throttle::FailureThrottle;
use shared::Secret;
use tokio::sync::Semaphore;

use super::secrets;
use crate::db::applications::ApplicationRow;
use crate::error::{Error, Result};

/// A verified credential is trusted without bcrypt while it keeps being used at least this
/// often.
const CACHE_IDLE: Duration = Duration::from_secs(15 * 60);
const CACHE_MAX: u64 = 10_000;
/// Longer secrets are rejected before any hashing.
const MAX_SECRET_LEN: usize = 512;
/// Failures allowed per client id in a burst, and how often one comes back.
pub const FAILURE_BURST: u32 = 10;
pub const FAILURE_REFILL: Duration = Duration::from_secs(6);
const FAILURE_KEYS: u64 = 100_000;

/// Credentials as presented, and how (Basic adds a challenge to 401 answers). No `Debug`: it
/// holds a plaintext secret.
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Secret,
    pub basic: bool,
}

pub struct ClientAuthenticator {
    cost: u32,
    dummy_hash: Arc<str>,
    verified: Cache<[u8; 32], Arc<str>>,
    throttle: FailureThrottle,
    bcrypt: Arc<Semaphore>,
}

#[derive(Debug, Clone, Copy)]
enum VerifyError {
    Mismatch,
    Cancelled,
}

impl ClientAuthenticator {
    /// `cost` must be the cost new secrets are hashed with, so that the dummy verify of an
    /// unknown client costs what a real one does; `concurrency` bounds bcrypt work in flight.
    pub fn new(cost: u32, concurrency: u32) -> Self {
        let dummy = secrets::generate_client_secret();
        let dummy_hash = secrets::hash_secret(&dummy, cost)
            .expect("invariant: bcrypt accepts a 44-byte input at a validated cost");
        ClientAuthenticator {
            cost,
            dummy_hash: dummy_hash.into(),
            verified: Cache::builder()
                .max_capacity(CACHE_MAX)
                .time_to_idle(CACHE_IDLE)
                .build(),
            throttle: FailureThrottle::new(FAILURE_BURST, FAILURE_REFILL, FAILURE_KEYS),
            bcrypt: Arc::new(Semaphore::new(concurrency.max(1) as usize)),
        }
    }

    /// Shares the per-`client_id` failure throttle with every replica through `store`.
    pub fn with_shared_throttle(mut self, store: Arc<shared::redis_store::RedisStore>) -> Self {
        self.throttle = self.throttle.shared("client", store);
        self
    }

    /// Runs `f` (bcrypt hashing) on the blocking pool under the same bound as verifications.
    pub async fn hash_bounded(&self, secret: &Secret) -> Result<String> {
        let _permit = self
            .bcrypt
            .acquire()
            .await
            .map_err(|_| Error::Internal("bcrypt limiter closed".into()))?;
        let (secret, cost) = (secret.clone(), self.cost);
        actix_web::web::block(move || secrets::hash_secret(&secret, cost))
            .await
            .map_err(|_| Error::Internal("bcrypt task cancelled".into()))?
            .map_err(|e| Error::Internal(format!("bcrypt: {e}")))
    }

    /// Authenticates a client. `now_us` is wall-clock Unix microseconds (grace periods),
    /// `now` the monotonic clock (throttle).
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
        let candidates: Vec<Arc<str>> = row
            .as_ref()
            .map(|r| r.secret_candidates(now_us).map(Arc::from).collect())
            .unwrap_or_default();

        let key = cache_key(&creds.client_id, creds.secret.expose());
        if let Some(row) = &row {
            if let Some(hash) = self.verified.get(&key).await {
                if candidates.iter().any(|c| same_hash(c, &hash)) {
                    self.after_success(db, row, &hash, &creds.secret).await;
                    return Ok(row.clone());
                }
                self.verified.invalidate(&key).await;
            }
        }

        let throttled = self.throttle.take(&creds.client_id, now).await.err();
        // Two bcrypt verifications for every failed attempt that the cache did not answer,
        // padded with the dummy hash: an unknown client, a wrong secret, and a wrong secret
        // during a rotation grace period (two real hashes) all cost the same; a match stops early.
        let real = candidates.len().min(2);
        let mut to_check = candidates.clone();
        to_check.resize(2, self.dummy_hash.clone());
        let verification = verify(self.bcrypt.clone(), creds.secret.clone(), to_check, real);
        let outcome = self.verified.try_get_with(key, verification).await;

        match (row, outcome) {
            (Some(row), Ok(hash)) => {
                if throttled.is_none() {
                    self.throttle.give_back(&creds.client_id, now).await;
                }
                self.after_success(db, &row, &hash, &creds.secret).await;
                Ok(row)
            }
            (_, Err(e)) if matches!(*e, VerifyError::Cancelled) => {
                Err(Error::Internal("bcrypt task cancelled".into()))
            }
            _ => match throttled {
                Some(retry_after) => Err(Error::Throttled { retry_after }),
                None => Err(Error::InvalidClient { basic }),
            },
        }
    }

    /// What a successful authentication settles: the first use of a rotated secret ends the
    /// previous one (when it was kept only until then), and a hash made at another bcrypt cost
    /// than the configured one is replaced, so that the dummy hash of unknown clients keeps
    /// costing what a real verification costs.
    async fn after_success(&self, db: &Db, row: &ApplicationRow, hash: &str, secret: &Secret) {
        if !same_hash(&row.secret_hash, hash) {
            return;
        }
        if row.previous_secret_until_used && row.previous_secret_hash.is_some() {
            let (id, current) = (row.client_id.clone(), row.secret_hash.clone());
            if let Err(e) = db
                .run(move |c| {
                    c.transaction(|c| {
                        let n = ApplicationRow::end_previous_secret(c, &id, &current)?;
                        if n > 0 {
                            let now = shared::time::now_micros();
                            changes::record(c, ChangeKind::App, &id, now)?;
                        }
                        Ok(n)
                    })
                })
                .await
            {
                tracing::warn!(
                    "could not retire the previous secret of {}: {e}",
                    row.client_id
                );
            }
        }
        if secrets::hash_cost(hash) != Some(self.cost) {
            match self.hash_bounded(secret).await {
                Ok(new_hash) => {
                    let (id, old) = (row.client_id.clone(), row.secret_hash.clone());
                    let stored = new_hash.clone();
                    match db
                        .run(move |c| ApplicationRow::replace_secret_hash(c, &id, &old, &stored))
                        .await
                    {
                        Ok(1) => {
                            let key = cache_key(&row.client_id, secret.expose());
                            self.verified.insert(key, new_hash.into()).await;
                            tracing::info!(
                                "client secret of {} rehashed at bcrypt cost {}",
                                row.client_id,
                                self.cost
                            );
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!("rehash of {} not stored: {e}", row.client_id),
                    }
                }
                Err(e) => tracing::warn!("rehash of {} failed: {e}", row.client_id),
            }
        }
    }
}

/// Verifies `secret` against the first `real` hashes of `to_check` (the application's current
/// and, during a rotation, previous hash) and answers as soon as one matches; on a mismatch it
/// also runs the rest (the dummy padding), so every failure — unknown client, wrong secret,
/// wrong secret during a grace period — costs `to_check.len()` verifications. A success may be
/// cheaper than a failure: it tells the caller nothing the answer does not, and it halves the
/// wait of a replica's first request for a client (docs/PERFORMANCE.md, "Tokens from cold").
async fn verify(
    limiter: Arc<Semaphore>,
    secret: Secret,
    to_check: Vec<Arc<str>>,
    real: usize,
) -> std::result::Result<Arc<str>, VerifyError> {
    let _permit = limiter
        .acquire_owned()
        .await
        .map_err(|_| VerifyError::Cancelled)?;
    actix_web::web::block(move || {
        for (i, h) in to_check.iter().enumerate() {
            if secrets::verify_secret(secret.expose(), h) && i < real {
                return Ok(h.clone());
            }
        }
        Err(VerifyError::Mismatch)
    })
    .await
    .map_err(|_| VerifyError::Cancelled)?
}

fn same_hash(a: &str, b: &str) -> bool {
    shared::secret::ct_eq(a.as_bytes(), b.as_bytes())
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

    #[actix_web::test]
    async fn concurrent_verifications_of_one_credential_share_one_bcrypt() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let auth = ClientAuthenticator::new(4, 1);
        let secret = secrets::generate_client_secret();
        let hash: Arc<str> = secrets::hash_secret(&secret, 4).unwrap().into();
        let key = cache_key("app_x", secret.expose());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, calls) = (auth.verified.clone(), calls.clone());
                let (limiter, secret, hash) = (auth.bcrypt.clone(), secret.clone(), hash.clone());
                actix_web::rt::spawn(async move {
                    cache
                        .try_get_with(key, async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            verify(limiter, secret, vec![hash.clone(), hash], 1).await
                        })
                        .await
                        .is_ok()
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
