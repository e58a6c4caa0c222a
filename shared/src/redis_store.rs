//! The optional shared store behind `REDIS_URL`: tier rate limits and failure throttles that
//! every replica counts against together.
//!
//! Each decision is one Lua script run atomically by Redis, on Redis's own clock (`TIME`), so
//! that replicas with skewed clocks still share one bucket. The connection is a multiplexed
//! [`ConnectionManager`] (it reconnects by itself); every call is bounded by
//! [`RedisStore::TIMEOUT`].
//!
//! A Redis fault is never an error for a client: the caller decides that request with its
//! per-replica (in-process) state and the fault is counted in `<namespace>_redis_errors_total`.
//! After [`FAULTS_BEFORE_BACKOFF`] faults in a row — not one slow call on a loaded host — Redis
//! is left alone for [`BACKOFF`], so that a dead Redis costs requests nothing while it is down,
//! and a warning is logged (at most once per [`WARN_EVERY`]). The first call after the backoff
//! tries again: sharing resumes by itself when Redis is back; any answer resets the count.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script};

/// After this many faults in a row, Redis is not asked again for [`BACKOFF`].
pub const FAULTS_BEFORE_BACKOFF: u32 = 3;
/// How long Redis is left alone after [`FAULTS_BEFORE_BACKOFF`] faults in a row (the
/// per-replica state answers meanwhile).
pub const BACKOFF: Duration = Duration::from_secs(1);
/// At most one warning per this interval, however many calls fail.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// A connection to Redis with the scripts of [`crate::ratelimit`] and [`crate::throttle`].
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    errors: IntCounter,
    epoch: Instant,
    /// Milliseconds since `epoch` before which Redis is not asked (0: ask).
    down_until_ms: AtomicU64,
    /// Faults since the last answer.
    faults_in_a_row: AtomicU32,
    /// Milliseconds since `epoch` of the last warning, plus one (0: never warned).
    warned_at_ms: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: it is not kept, and never shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Every Redis call (connection included) is abandoned after this long.
    pub const TIMEOUT: Duration = Duration::from_millis(50);

    /// A store on `url` (`redis://` or `rediss://` for TLS with rustls and the system roots).
    /// Connects lazily: a Redis that is down at start is not an error (the replica limits
    /// alone until it comes up). Must be called inside a Tokio runtime. `errors` counts
    /// faults. Keys are prefixed with `prefix` (e.g. `caseforge:`).
    pub fn open(url: &str, prefix: &str, errors: IntCounter) -> Result<RedisStore, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("not a redis:// or rediss:// URL ({})", e.category()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Self::TIMEOUT))
            .set_response_timeout(Some(Self::TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the connection ({})", e.category()))?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_owned(),
            errors,
            epoch: Instant::now(),
            down_until_ms: AtomicU64::new(0),
            faults_in_a_row: AtomicU32::new(0),
            warned_at_ms: AtomicU64::new(0),
        })
    }

    /// The Redis key for `name` (a limiter or throttle) and `key` (a credential, a source).
    pub fn key(&self, name: &str, key: &str) -> String {
        format!("{}{name}:{key}", self.prefix)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether Redis is being asked now (false during the backoff after a fault).
    pub fn available(&self) -> bool {
        self.now_ms() >= self.down_until_ms.load(Ordering::Relaxed)
    }

    /// Runs `script` on `key` with `args`; `None` on any fault (after counting it) or during
    /// the backoff.
    pub async fn eval<T: FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[String],
    ) -> Option<T> {
        if !self.available() {
            return None;
        }
        let mut conn = self.conn.clone();
        let mut invocation = script.key(key);
        for a in args {
            invocation.arg(a);
        }
        let call = invocation.invoke_async::<T>(&mut conn);
        match tokio::time::timeout(Self::TIMEOUT, call).await {
            Ok(Ok(v)) => {
                self.faults_in_a_row.store(0, Ordering::Relaxed);
                Some(v)
            }
            Ok(Err(e)) => {
                self.fault(e.category());
                None
            }
            Err(_) => {
                self.fault("timed out");
                None
            }
        }
    }

    fn fault(&self, what: &str) {
        self.errors.inc();
        if self.faults_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 < FAULTS_BEFORE_BACKOFF {
            return;
        }
        self.faults_in_a_row.store(0, Ordering::Relaxed);
        let now = self.now_ms();
        let backoff = u64::try_from(BACKOFF.as_millis()).unwrap_or(u64::MAX);
        self.down_until_ms
            .store(now.saturating_add(backoff), Ordering::Relaxed);
        let last = self.warned_at_ms.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        if (last == 0 || now.saturating_sub(last - 1) >= every)
            && self
                .warned_at_ms
                .compare_exchange(last, now + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                "redis unavailable ({what}); rate limits and failure throttles are per replica until it answers (this warning repeats at most every {} s)",
                WARN_EVERY.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_slow_or_failed_call_does_not_stop_sharing_three_in_a_row_do() {
        // Nothing listens on port 1: every call fails at once.
        let errors = IntCounter::new("e", "e").unwrap();
        let store = RedisStore::open("redis://127.0.0.1:1/", "t:", errors.clone()).unwrap();
        let script = Script::new("return 1");
        for n in 1..FAULTS_BEFORE_BACKOFF {
            assert_eq!(store.eval::<i64>(&script, "k", &[]).await, None);
            assert!(store.available(), "still asked after {n} fault(s)");
        }
        assert_eq!(store.eval::<i64>(&script, "k", &[]).await, None);
        assert!(
            !store.available(),
            "left alone after {FAULTS_BEFORE_BACKOFF} in a row"
        );
        assert_eq!(errors.get(), u64::from(FAULTS_BEFORE_BACKOFF));
    }
}
