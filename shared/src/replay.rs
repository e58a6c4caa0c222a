//! Single-use identifiers across replicas: the `jti` of a client assertion (RFC 7523 §3) or of
//! a DPoP proof (RFC 9449 §11.1) is accepted once, until it could no longer be accepted anyway.
//!
//! Three layers, in order: a bounded in-process cache (a replay on the same replica costs no
//! round trip), then — with `REDIS_URL` — one `SET NX PX` on Redis, shared by every replica;
//! without Redis, or when Redis does not answer, one insert into `seen_jtis` (its primary key
//! decides; rows past their expiry are pruned by the auth server's purge job). A Redis fault
//! therefore never lets a replay through: it costs a database write instead.
//!
//! The database inserts of concurrent requests are written together (group commit): one
//! writer task per guard takes every insert waiting when it is free — up to 256 — and
//! runs them as one transaction, each identifier still decided by its own statement's row
//! count, answered only once the transaction has committed. One commit instead of one per
//! request is what the database mode costs less of; at low load a batch holds one insert.
//!
//! Keys are SHA-256 of (kind, issuer, jti), so neither the store nor the cache holds what the
//! client sent, and one client cannot use up another's identifiers.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::seen_jtis;
use crate::db::{Db, DbConnection, DbError};
use crate::redis_store::RedisStore;

/// In-process entries kept at most.
const LOCAL_MAX: u64 = 200_000;
/// Longest an identifier must be remembered (an assertion's 60 minutes, plus the leeway).
const LOCAL_TTL: Duration = Duration::from_secs(3600 + 120);

/// What kind of identifier: each has its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JtiKind {
    /// A client assertion's `jti` (per client id).
    Assertion,
    /// A DPoP proof's `jti` (per key thumbprint).
    DpopProof,
}

impl JtiKind {
    fn as_str(self) -> &'static str {
        match self {
            JtiKind::Assertion => "assertion",
            JtiKind::DpopProof => "dpop",
        }
    }
}

const SET_ONCE: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 else return 0 end
";

/// Inserts written in one transaction at most.
const MAX_BATCH: usize = 256;

/// An insert waiting for the writer: key, expiry and now (µs), and where its answer goes.
type Pending = (
    String,
    i64,
    i64,
    tokio::sync::oneshot::Sender<Result<bool, DbError>>,
);

/// See the module documentation.
pub struct ReplayGuard {
    db: Db,
    /// The writer task's queue, started on first use (inside the runtime) and again if the
    /// runtime it ran on has gone.
    writer: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<Pending>>>,
    local: moka::sync::Cache<[u8; 32], ()>,
    redis: Option<(Arc<RedisStore>, redis::Script)>,
}

impl ReplayGuard {
    pub fn new(db: Db) -> ReplayGuard {
        ReplayGuard {
            db,
            writer: std::sync::Mutex::new(None),
            local: moka::sync::Cache::builder()
                .max_capacity(LOCAL_MAX)
                .time_to_live(LOCAL_TTL)
                .build(),
            redis: None,
        }
    }

    /// Shares the identifiers through Redis (`ServiceBuilder::share`).
    pub fn shared(mut self, store: Arc<RedisStore>) -> ReplayGuard {
        self.redis = Some((store, redis::Script::new(SET_ONCE)));
        self
    }

    /// True when `jti` of `issuer` is seen for the first time by any replica; it is then
    /// remembered until `expires_at` (Unix seconds). `now` is Unix seconds.
    pub async fn first_use(
        &self,
        kind: JtiKind,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let key = key(kind, issuer, jti);
        if !self.local.entry(key).or_insert(()).is_fresh() {
            return Ok(false);
        }
        let ttl_secs = (expires_at - now).clamp(1, LOCAL_TTL.as_secs() as i64);
        if let Some((store, script)) = &self.redis {
            let redis_key = store.key("jti", &hex::encode(key));
            let ttl_ms = (ttl_secs * 1000).to_string();
            if let Some(set) = store.eval::<i64>(script, &redis_key, &[ttl_ms]).await {
                return Ok(set == 1);
            }
        }
        let row_key = hex::encode(key);
        let until = (now + ttl_secs).saturating_mul(1_000_000);
        let now_us = now.saturating_mul(1_000_000);
        let (answer, answered) = tokio::sync::oneshot::channel();
        if self.writer().send((row_key, until, now_us, answer)).is_ok() {
            if let Ok(first) = answered.await {
                return first;
            }
        }
        // The writer went away with this request's insert (its runtime shut down): this request
        // writes on its own. Had the writer's transaction committed the key, the insert here
        // finds the row and refuses — a lost answer never lets a replay through.
        tracing::warn!("single-use write without its batch writer (it stopped)");
        let row_key = hex::encode(key);
        self.db
            .run(move |c| insert_if_absent(c, &row_key, until, now_us))
            .await
    }

    /// The writer's queue; a new writer on this runtime when there is none or it has stopped.
    fn writer(&self) -> tokio::sync::mpsc::UnboundedSender<Pending> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        match writer.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                tokio::spawn(write_batches(self.db.clone(), rx));
                *writer = Some(tx.clone());
                tx
            }
        }
    }
}

/// The writer: every insert waiting when it is free, in one transaction, in key order (so that
/// two replicas' batches take their rows' locks in the same order), until the guard is dropped.
async fn write_batches(db: Db, mut queue: tokio::sync::mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (rows, answers): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|(key, until, now, answer)| ((key, until, now), answer))
            .unzip();
        let result = db
            .transaction(move |c| {
                let mut order: Vec<usize> = (0..rows.len()).collect();
                order.sort_by(|&a, &b| rows[a].0.cmp(&rows[b].0));
                let mut firsts = vec![false; rows.len()];
                for i in order {
                    let (key, until, now) = &rows[i];
                    firsts[i] = insert_if_absent(c, key, *until, *now)?;
                }
                Ok::<_, DbError>(firsts)
            })
            .await;
        match result {
            Ok(firsts) => {
                for (answer, first) in answers.into_iter().zip(firsts) {
                    let _ = answer.send(Ok(first));
                }
            }
            Err(e) => {
                // One error for the batch; each waiting request answers "unavailable".
                let unavailable = e.is_unavailable();
                for answer in answers {
                    let _ = answer.send(Err(if unavailable {
                        DbError::Busy(std::time::Duration::ZERO)
                    } else {
                        DbError::Canceled
                    }));
                }
            }
        }
    }
}

fn key(kind: JtiKind, issuer: &str, jti: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [kind.as_str(), issuer, jti] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// Inserts `key` unless a row that has not expired holds it (an expired one is taken over), in
/// one statement — one commit — on either backend: `INSERT … ON CONFLICT (key) DO UPDATE …
/// WHERE expires_at <= now` changes one row exactly when the identifier is free. Two replicas
/// racing for the same key are ordered by the primary key: the second sees the first's row,
/// current, and changes nothing.
fn insert_if_absent(
    c: &mut DbConnection,
    key: &str,
    expires_at: i64,
    now: i64,
) -> QueryResult<bool> {
    use diesel::query_dsl::methods::FilterDsl;
    use diesel::upsert::excluded;
    let changed = crate::on_backend!(c, |c| FilterDsl::filter(
        diesel::insert_into(seen_jtis::table)
            .values((seen_jtis::key.eq(key), seen_jtis::expires_at.eq(expires_at)))
            .on_conflict(seen_jtis::key)
            .do_update()
            .set(seen_jtis::expires_at.eq(excluded(seen_jtis::expires_at))),
        seen_jtis::expires_at.le(now)
    )
    .execute(c))?;
    Ok(changed == 1)
}

/// Drops identifiers past their expiry (the auth server's purge job).
pub fn purge_expired(c: &mut DbConnection, now_us: i64) -> QueryResult<usize> {
    diesel::delete(seen_jtis::table.filter(seen_jtis::expires_at.le(now_us))).execute(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_kind_issuer_and_jti() {
        assert_ne!(
            key(JtiKind::Assertion, "a", "bc"),
            key(JtiKind::Assertion, "ab", "c")
        );
        assert_ne!(
            key(JtiKind::Assertion, "a", "b"),
            key(JtiKind::DpopProof, "a", "b")
        );
    }
}
