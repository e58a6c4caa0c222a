//! Client authentication for the token, introspection and revocation endpoints.
//!
//! The database row is always read (it is the truth about disabled, deleted and rotated
//! clients, on every replica). A secret is checked against the row's current hash and, during a
//! rotation, its previous one:
//!
//! - **A digest** (`sha256:…`, every secret made or rotated since digests; see
//!   [`super::secrets`]): the presented secret's SHA-256 is compared in constant time with
//!   exactly two stored values — the real ones, padded with a dummy digest — so an unknown
//!   client, a wrong secret and a wrong secret during a grace period all cost the same two
//!   comparisons. Microseconds: every replica answers a client's first request as fast as its
//!   thousandth, and there is no CPU lever for a flood of guesses.
//! - **A bcrypt hash** (rows from before digests): verified as before, and replaced by the
//!   digest at its first successful use, so each such client pays bcrypt once, on one replica
//!   (audited as `application.secret_rehash`, actor the client).
//!   Meanwhile its work is bounded and shared: at most `BCRYPT_CONCURRENCY` verifications run at
//!   once (a fair queue); concurrent requests with the same credentials share one verification
//!   (a bounded cache from SHA-256(client_id, secret) to the hash verified, whose `try_get_with`
//!   coalesces them); a failure costs two verifications, padded with a dummy hash.
//!
//! The first use of a rotated secret ends the previous one when it was kept only until then
//! (`application.previous_secret_end`, audited as the client, in the change feed).
//!
//! Failures are throttled per `client_id` ([`FailureThrottle`]): ten in a burst, then one every
//! six seconds. Taking a failure token is atomic, so concurrent guesses cannot overrun the
//! burst. A digest is matched before the throttle is consulted (it costs microseconds), so a
//! correct secret of a digest row is never refused. For a bcrypt row the throttle comes first:
//! a throttled attempt is answered 429 without bcrypt (unless the same credentials were verified
//! recently), so that guesses at one legacy client cannot queue bcrypt work in front of another
//! client's request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::Connection;
use moka::future::Cache;
use sha2::{Digest, Sha256};
use shared::changes::ChangeKind;
use shared::db::Db;
use shared::throttle::FailureThrottle;
use shared::validate::plausible_client_id;
use shared::{Secret, SecretDigest};
use tokio::sync::Semaphore;

use super::audit::{self, AuditContext, AuditEvent, AuditKey, Feed};
use super::secrets;
use crate::db::applications::ApplicationRow;
use crate::error::{Error, Result};

/// A credential verified against a bcrypt hash is trusted without bcrypt while it keeps being
/// used at least this often (until its hash is replaced by the digest, moments later).
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

/// How a client authenticates: a secret, or a `private_key_jwt` assertion
/// ([`super::assertions`]).
pub enum Credentials {
    Secret(ClientCredentials),
    Assertion(super::assertions::AssertionCredentials),
}

pub struct ClientAuthenticator {
    dummy_hash: Arc<str>,
    dummy_digest: SecretDigest,
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
    /// `cost` is the bcrypt cost of the dummy hash that pads a failed verification of an older
    /// bcrypt row; `concurrency` bounds bcrypt work in flight.
    pub fn new(cost: u32, concurrency: u32) -> Self {
        let dummy = secrets::generate_client_secret();
        let dummy_hash = secrets::hash_secret(dummy.plaintext(), cost)
            .expect("invariant: bcrypt accepts a 44-byte input at a validated cost");
        ClientAuthenticator {
            dummy_hash: dummy_hash.into(),
            dummy_digest: secrets::generate_client_secret().into_parts().1,
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

    /// Authenticates a client. `now_us` is wall-clock Unix microseconds (grace periods),
    /// `now` the monotonic clock (throttle). What a success settles (the end of a previous
    /// secret, a bcrypt row's digest) is audited as the client, from `source`, under `key`.
    pub async fn authenticate(
        &self,
        db: &Db,
        creds: ClientCredentials,
        (key, source): (&AuditKey, Option<&str>),
        now_us: i64,
        now: Instant,
    ) -> Result<ApplicationRow> {
        let audit = |row: &ApplicationRow| {
            AuditContext::client(key, &row.client_id, source.map(str::to_owned))
        };
        let basic = creds.basic;
        if !plausible_client_id(&creds.client_id) || creds.secret.expose().len() > MAX_SECRET_LEN {
            return Err(Error::InvalidClient { basic });
        }
        let client_id = creds.client_id.clone();
        let row = db.run(move |c| ApplicationRow::find(c, &client_id)).await?;
        // An application without a secret (`private_key_jwt`) is, for a secret, unknown.
        let row = row.filter(|r| {
            !r.disabled
                && r.deleted_at.is_none()
                && r.secret_hash != crate::db::applications::NO_SECRET
        });
        let candidates: Vec<Arc<str>> = row
            .as_ref()
            .map(|r| r.secret_candidates(now_us).map(Arc::from).collect())
            .unwrap_or_default();

        if let Some(row) = &row {
            if let Some(hash) = self.digest_match(&candidates, creds.secret.expose()) {
                self.after_success(db, &audit(row), row, &hash, &creds.secret)
                    .await;
                return Ok(row.clone());
            }
        } else {
            // An unknown client costs the two comparisons a wrong secret costs.
            self.digest_match(&[], creds.secret.expose());
        }
        let legacy: Vec<Arc<str>> = candidates
            .into_iter()
            .filter(|c| !secrets::is_digest(c))
            .collect();
        if legacy.is_empty() {
            return Err(match self.throttle.take(&creds.client_id, now).await {
                Ok(()) => Error::InvalidClient { basic },
                Err(retry_after) => Error::Throttled { retry_after },
            });
        }

        // An older bcrypt row. A recent verification of the same credentials is trusted while
        // its hash is still one of the row's (before the throttle, as a digest match is).
        let key = cache_key(&creds.client_id, creds.secret.expose());
        if let (Some(row), Some(hash)) = (&row, self.verified.get(&key).await) {
            if legacy.iter().any(|c| same_hash(c, &hash)) {
                self.after_success(db, &audit(row), row, &hash, &creds.secret)
                    .await;
                return Ok(row.clone());
            }
            self.verified.invalidate(&key).await;
        }
        if let Err(retry_after) = self.throttle.take(&creds.client_id, now).await {
            return Err(Error::Throttled { retry_after });
        }
        // Two bcrypt verifications for every failed attempt, padded with the dummy hash; a
        // match stops early.
        let real = legacy.len().min(2);
        let mut to_check = legacy;
        to_check.resize(2, self.dummy_hash.clone());
        let verification = verify(self.bcrypt.clone(), creds.secret.clone(), to_check, real);
        let outcome = self.verified.try_get_with(key, verification).await;

        match (row, outcome) {
            (Some(row), Ok(hash)) => {
                self.throttle.give_back(&creds.client_id, now).await;
                self.after_success(db, &audit(&row), &row, &hash, &creds.secret)
                    .await;
                Ok(row)
            }
            (_, Err(e)) if matches!(*e, VerifyError::Cancelled) => {
                Err(Error::Internal("bcrypt task cancelled".into()))
            }
            _ => Err(Error::InvalidClient { basic }),
        }
    }

    /// The stored digest among `candidates` that `secret` matches. Always exactly two
    /// constant-time comparisons (the real digests, padded with the dummy), whatever matches.
    fn digest_match(&self, candidates: &[Arc<str>], secret: &str) -> Option<Arc<str>> {
        let presented = SecretDigest::of_client_secret(secret);
        let digests: Vec<&Arc<str>> = candidates
            .iter()
            .filter(|c| secrets::is_digest(c))
            .collect();
        let mut matched = None;
        for i in 0..2 {
            let against = digests.get(i).map_or(self.dummy_digest.as_str(), |d| &***d);
            if presented.ct_eq(against) && i < digests.len() {
                matched = Some(digests[i].clone());
            }
        }
        matched
    }

    /// What a successful authentication settles: the first use of a rotated secret ends the
    /// previous one (when it was kept only until then), and a bcrypt hash from before digests
    /// is replaced by the digest. Each is audited as the client (`ctx`) in its transaction.
    async fn after_success(
        &self,
        db: &Db,
        ctx: &AuditContext,
        row: &ApplicationRow,
        hash: &str,
        secret: &Secret,
    ) {
        if !same_hash(&row.secret_hash, hash) {
            return;
        }
        if row.previous_secret_until_used && row.previous_secret_hash.is_some() {
            let (id, current) = (row.client_id.clone(), row.secret_hash.clone());
            let ctx = ctx.clone();
            let event = AuditEvent::success(
                "application.previous_secret_end",
                &row.client_id,
                serde_json::json!({"reason": "first use of the new secret"}),
            );
            if let Err(e) = db
                .run(move |c| {
                    c.transaction(|c| {
                        let n = ApplicationRow::end_previous_secret(c, &id, &current)?;
                        if n > 0 {
                            let now = shared::time::now_micros();
                            let feed = Feed::Credential(ChangeKind::App, &id);
                            audit::change(c, &ctx, feed, &event, now)?;
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
        if !secrets::is_digest(hash) {
            let (id, old) = (row.client_id.clone(), row.secret_hash.clone());
            let digest = SecretDigest::of_client_secret(secret.expose()).into_string();
            let ctx = ctx.clone();
            let event = AuditEvent::success(
                "application.secret_rehash",
                &row.client_id,
                serde_json::json!({"from": "bcrypt", "to": "sha256"}),
            );
            match db
                .run(move |c| {
                    c.transaction(|c| {
                        let n = ApplicationRow::replace_secret_hash(c, &id, &old, &digest)?;
                        // The same secret, stored differently: no decision changes anywhere,
                        // so nothing for the change feed.
                        if n > 0 {
                            let now = shared::time::now_micros();
                            audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                        }
                        Ok(n)
                    })
                })
                .await
            {
                Ok(1) => {
                    tracing::info!("client secret of {} now stored as a digest", row.client_id)
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("digest of {} not stored: {e}", row.client_id),
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
        let secret = secrets::generate_client_secret().into_parts().0;
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
