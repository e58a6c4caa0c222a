//! Failure throttles: a token bucket of *failures* per key (a client id, a source address).
//!
//! Each failed attempt takes one token from a bucket of `burst` that refills at one token per
//! `refill`; an empty bucket means "throttled", with the seconds until the next token. Taking a
//! token is one atomic step per key ([`FailureThrottle::try_take`]), so that concurrent attempts
//! cannot all pass a check made before any of them is counted; an attempt that then succeeds
//! gives its token back ([`FailureThrottle::refund`]).
//!
//! The policy that a *correct* credential is never refused lives with the callers: they verify
//! even a throttled attempt and answer 429 only when it fails.
//!
//! Memory is bounded: buckets live in a size-bounded cache, and a bucket untouched for as long
//! as a full refill takes is dropped (it would be full again anyway, which is what a missing
//! bucket means).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::ops::compute::Op;
use moka::sync::Cache;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct FailureThrottle {
    burst: f64,
    refill: Duration,
    buckets: Cache<String, Bucket>,
    shared: Option<Shared>,
}

struct Shared {
    name: &'static str,
    store: Arc<crate::redis_store::RedisStore>,
    script: redis::Script,
    /// Keys Redis last answered "throttled" for, and until when.
    blocked: Cache<String, Instant>,
}

/// One failure bucket in Redis, on Redis's clock. ARGV: burst, seconds per token, `take` or
/// `refund`. Returns the milliseconds to wait (0: a token was taken, or the refund was made).
const FAILURE_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) / refill) end
local wait = 0
if ARGV[3] == 'take' then
  if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * refill * 1000) end
else
  tokens = math.min(burst, tokens + 1)
end
if tokens >= burst then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(math.max(now, at)))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst * refill * 1000))
end
return wait
"#;

impl FailureThrottle {
    /// `burst` failures at once, then one more every `refill`; at most `max_keys` buckets.
    pub fn new(burst: u32, refill: Duration, max_keys: u64) -> Self {
        let full_after = refill.saturating_mul(burst.max(1));
        FailureThrottle {
            burst: f64::from(burst.max(1)),
            refill,
            buckets: Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(full_after)
                .build(),
            shared: None,
        }
    }

    /// Shares the buckets through `store` under `name` (e.g. `client`, `source`, `admin`).
    pub fn shared(
        mut self,
        name: &'static str,
        store: Arc<crate::redis_store::RedisStore>,
    ) -> Self {
        let max_keys = self.buckets.policy().max_capacity().unwrap_or(100_000);
        self.shared = Some(Shared {
            name,
            store,
            script: redis::Script::new(FAILURE_SCRIPT),
            blocked: Cache::builder()
                .max_capacity(max_keys)
                .time_to_live(self.refill.max(Duration::from_secs(1)))
                .build(),
        });
        self
    }

    /// Asks Redis; `None` when not shared or Redis did not answer (the caller uses memory).
    async fn ask(&self, key: &str, op: &str) -> Option<u64> {
        let shared = self.shared.as_ref()?;
        let args = [
            self.burst.to_string(),
            self.refill.as_secs_f64().to_string(),
            op.to_owned(),
        ];
        shared
            .store
            .eval(&shared.script, &shared.store.key(shared.name, key), &args)
            .await
    }

    /// [`FailureThrottle::try_take`] across replicas when shared (in memory otherwise, or when
    /// Redis does not answer).
    pub async fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        match (self.ask(key, "take").await, &self.shared) {
            (Some(0), _) => Ok(()),
            (Some(wait_ms), Some(shared)) => {
                shared.blocked.insert(
                    key.to_owned(),
                    now + Duration::from_millis(wait_ms).min(self.refill),
                );
                Err(wait_ms.div_ceil(1000).max(1))
            }
            _ => self.try_take(key, now),
        }
    }

    /// [`FailureThrottle::refund`] across replicas when shared.
    pub async fn give_back(&self, key: &str, now: Instant) {
        if self.ask(key, "refund").await.is_none() {
            self.refund(key, now);
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        Bucket {
            tokens: (b.tokens + elapsed / self.refill.as_secs_f64()).min(self.burst),
            at: now,
        }
    }

    fn wait_secs(&self, tokens: f64) -> u64 {
        ((1.0 - tokens) * self.refill.as_secs_f64()).ceil().max(1.0) as u64
    }

    /// Takes one failure token for `key`: `Ok(())` when one was left, `Err(seconds)` to wait
    /// when the bucket is empty (nothing is taken then).
    pub fn try_take(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut outcome = Ok(());
        self.buckets.entry_by_ref(key).and_compute_with(|entry| {
            let b = entry
                .map(|e| self.refilled(e.into_value(), now))
                .unwrap_or(Bucket {
                    tokens: self.burst,
                    at: now,
                });
            if b.tokens >= 1.0 {
                Op::Put(Bucket {
                    tokens: b.tokens - 1.0,
                    at: now,
                })
            } else {
                outcome = Err(self.wait_secs(b.tokens));
                Op::Put(b)
            }
        });
        outcome
    }

    /// Gives back the token of an attempt that turned out to succeed.
    pub fn refund(&self, key: &str, now: Instant) {
        self.buckets.entry_by_ref(key).and_compute_with(|entry| {
            match entry.map(|e| self.refilled(e.into_value(), now)) {
                Some(b) if b.tokens + 1.0 < self.burst => Op::Put(Bucket {
                    tokens: b.tokens + 1.0,
                    at: now,
                }),
                // Back to full: a missing bucket says the same with no memory.
                _ => Op::Remove,
            }
        });
    }

    /// `Some(seconds)` while `key` has no failure token left; takes nothing.
    /// When shared, this replica's memory of Redis's answers is consulted too (no Redis call).
    pub fn throttled(&self, key: &str, now: Instant) -> Option<u64> {
        if let Some(until) = self
            .shared
            .as_ref()
            .and_then(|s| s.blocked.get(key))
            .filter(|until| *until > now)
        {
            return Some(until.saturating_duration_since(now).as_secs().max(1));
        }
        let b = self.refilled(self.buckets.get(key)?, now);
        (b.tokens < 1.0).then(|| self.wait_secs(b.tokens))
    }
}

/// A lockout that grows: `free` failures in a row are tolerated, then every further failure
/// locks the key for `base`, doubled for each failure past the first lock, at most `max`. A
/// success clears it; a key left alone for `forget` starts over.
///
/// Unlike [`FailureThrottle`] it is meant for secrets people choose (passwords, six-digit codes):
/// the budget is small and does not refill by the second, so guessing one account from any
/// number of addresses gets at most `free` tries and then one per lock period. Each attempt is
/// counted *before* it is checked ([`Lockout::take`]), so concurrent attempts cannot all pass a
/// check made before any of them failed; a success then [`Lockout::clear`]s the key.
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Cache<String, LockState>,
    shared: Option<(
        &'static str,
        Arc<crate::redis_store::RedisStore>,
        redis::Script,
    )>,
}

/// The numbers of a [`Lockout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures in a row before the first lock.
    pub free: u32,
    /// The first lock's length; each further failure doubles it.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
    /// A key with no failure for this long is forgotten (its count starts over).
    pub forget: Duration,
}

impl LockoutPolicy {
    /// The lock that follows the `count`-th failure in a row (`None` within the free budget).
    pub fn lock_after(&self, count: u32) -> Option<Duration> {
        let past = count.checked_sub(self.free)?;
        let factor = 1u32.checked_shl(past.min(31)).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

#[derive(Debug, Clone, Copy)]
struct LockState {
    failures: u32,
    locked_until: Option<Instant>,
}

/// One lockout in Redis, on Redis's clock. ARGV: op (`take`, `peek`, `clear`), free, base ms,
/// max ms, forget ms. `take` and `peek` return the milliseconds still locked (0: not locked;
/// `take` then counted the attempt); `clear` returns 0.
const LOCKOUT_SCRIPT: &str = r#"
if ARGV[1] == 'clear' then redis.call('DEL', KEYS[1]) return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local forget = tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 'n', 'until')
local n = tonumber(s[1]) or 0
local locked = tonumber(s[2]) or 0
if locked > now then return locked - now end
if ARGV[1] == 'peek' then return 0 end
n = n + 1
local until_ms = 0
if n >= free then
  local past = math.min(n - free, 31)
  until_ms = math.floor(now + math.min(base * (2 ^ past), max))
end
redis.call('HSET', KEYS[1], 'n', n, 'until', until_ms)
redis.call('PEXPIRE', KEYS[1], math.max(forget, until_ms - now))
return 0
"#;

impl Lockout {
    /// At most `max_keys` keys in memory.
    pub fn new(policy: LockoutPolicy, max_keys: u64) -> Self {
        Lockout {
            policy,
            entries: Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(policy.forget.max(policy.max))
                .build(),
            shared: None,
        }
    }

    /// Shares the lockouts through `store` under `name`.
    pub fn shared(
        mut self,
        name: &'static str,
        store: Arc<crate::redis_store::RedisStore>,
    ) -> Self {
        self.shared = Some((name, store, redis::Script::new(LOCKOUT_SCRIPT)));
        self
    }

    pub fn policy(&self) -> LockoutPolicy {
        self.policy
    }

    async fn ask(&self, key: &str, op: &str) -> Option<u64> {
        let (name, store, script) = self.shared.as_ref()?;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).to_string();
        let args = [
            op.to_owned(),
            self.policy.free.to_string(),
            ms(self.policy.base),
            ms(self.policy.max),
            ms(self.policy.forget),
        ];
        store.eval(script, &store.key(name, key), &args).await
    }

    /// Counts an attempt on `key` before it is checked: `Err(seconds)` while the key is locked
    /// (nothing is counted then, and the attempt must not be checked at all), `Ok(())` otherwise.
    /// The attempt is a failure until [`Lockout::clear`] says otherwise. Shared through Redis
    /// when configured (in memory when Redis does not answer).
    pub async fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        match self.ask(key, "take").await {
            Some(0) => Ok(()),
            Some(ms) => Err(ms.div_ceil(1000).max(1)),
            None => self.take_local(key, now),
        }
    }

    /// [`Lockout::take`] in this process's memory only.
    pub fn take_local(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut outcome = Ok(());
        let policy = self.policy;
        self.entries.entry_by_ref(key).and_compute_with(|entry| {
            let state = entry.map(|e| e.into_value()).unwrap_or(LockState {
                failures: 0,
                locked_until: None,
            });
            if let Some(until) = state.locked_until.filter(|u| *u > now) {
                outcome = Err(until.saturating_duration_since(now).as_secs().max(1));
                return Op::Nop;
            }
            let failures = state.failures.saturating_add(1);
            Op::Put(LockState {
                failures,
                locked_until: policy.lock_after(failures).map(|d| now + d),
            })
        });
        outcome
    }

    /// `Some(seconds)` while `key` is locked; counts nothing (asks Redis when shared).
    pub async fn check(&self, key: &str, now: Instant) -> Option<u64> {
        match self.ask(key, "peek").await {
            Some(0) => None,
            Some(ms) => Some(ms.div_ceil(1000).max(1)),
            None => self.locked(key, now),
        }
    }

    /// `Some(seconds)` while `key` is locked in this process's memory; counts nothing.
    pub fn locked(&self, key: &str, now: Instant) -> Option<u64> {
        let until = self.entries.get(key)?.locked_until?;
        (until > now).then(|| until.saturating_duration_since(now).as_secs().max(1))
    }

    /// A success: the key starts over.
    pub async fn clear(&self, key: &str) {
        self.entries.invalidate(key);
        let _ = self.ask(key, "clear").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> FailureThrottle {
        FailureThrottle::new(10, Duration::from_secs(6), 1000)
    }

    #[test]
    fn ten_failures_then_throttled_then_recovers() {
        let t = throttle();
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(t.try_take("app_a", start), Ok(()));
        }
        let wait = t.try_take("app_a", start).expect_err("throttled");
        assert!((1..=6).contains(&wait), "{wait}");
        assert!(t.throttled("app_a", start).is_some());
        // Another key is unaffected.
        assert_eq!(t.throttled("app_b", start), None);
        // One refill period later one attempt is allowed again.
        assert_eq!(t.try_take("app_a", start + Duration::from_secs(6)), Ok(()));
    }

    #[test]
    fn a_refund_returns_the_token() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..10 {
            t.try_take("k", now).unwrap();
            t.refund("k", now);
        }
        assert_eq!(t.throttled("k", now), None);
        assert_eq!(t.try_take("k", now), Ok(()));
    }

    fn lockout() -> Lockout {
        Lockout::new(
            LockoutPolicy {
                free: 5,
                base: Duration::from_secs(60),
                max: Duration::from_secs(900),
                forget: Duration::from_secs(86_400),
            },
            1000,
        )
    }

    #[test]
    fn a_lockout_allows_the_free_failures_then_locks_for_longer_each_time() {
        let l = lockout();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(l.take_local("ada", t0), Ok(()), "attempt {i}");
        }
        // The fifth failure started a one-minute lock: nothing is counted while it lasts.
        assert_eq!(l.take_local("ada", t0), Err(60));
        assert_eq!(l.locked("ada", t0 + Duration::from_secs(30)), Some(30));
        assert_eq!(l.take_local("other", t0), Ok(()));
        // After it, one attempt is counted and locks for twice as long, then four times.
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(l.take_local("ada", t1), Ok(()));
        assert_eq!(l.take_local("ada", t1), Err(120));
        let t2 = t1 + Duration::from_secs(120);
        assert_eq!(l.take_local("ada", t2), Ok(()));
        assert_eq!(l.take_local("ada", t2), Err(240));
        // The lock never exceeds the maximum.
        assert_eq!(l.policy().lock_after(40), Some(Duration::from_secs(900)));
        assert_eq!(l.policy().lock_after(4), None);
    }

    #[tokio::test]
    async fn a_success_clears_the_lockout() {
        let l = lockout();
        let now = Instant::now();
        for _ in 0..4 {
            l.take_local("ada", now).unwrap();
        }
        l.clear("ada").await;
        for _ in 0..5 {
            assert_eq!(l.take_local("ada", now), Ok(()));
        }
        assert!(l.take_local("ada", now).is_err());
    }

    #[test]
    fn concurrent_lockout_takes_never_exceed_the_free_budget() {
        let l = Arc::new(lockout());
        let now = Instant::now();
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || l.take_local("victim", now).is_ok())
            })
            .collect();
        let passed = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn concurrent_takes_never_exceed_the_burst() {
        let t = Arc::new(throttle());
        let now = Instant::now();
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.try_take("victim", now).is_ok())
            })
            .collect();
        let passed = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(passed, 10);
    }
}

/// Against a real Redis: `TEST_REDIS_URL` (`.ci/run` starts one); skipped with a note without it.
#[cfg(test)]
mod redis_tests {
    use super::*;
    use crate::redis_store::RedisStore;

    #[tokio::test]
    async fn two_replicas_count_the_same_failures() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            eprintln!("skipped: TEST_REDIS_URL is not set");
            return;
        };
        let prefix = format!("test:{}:", crate::random::random_base62(12));
        let replica = || {
            let errors = prometheus::IntCounter::new("e", "e").unwrap();
            let store = Arc::new(RedisStore::open(&url, &prefix, errors).unwrap());
            FailureThrottle::new(10, Duration::from_secs(6), 1000).shared("client", store)
        };
        let (a, b) = (replica(), replica());
        let now = Instant::now();
        for i in 0..10 {
            let t = if i % 2 == 0 { &a } else { &b };
            assert_eq!(t.take("app_a", now).await, Ok(()), "failure {i}");
        }
        let wait = b
            .take("app_a", now)
            .await
            .expect_err("throttled on the other replica too");
        assert!((1..=6).contains(&wait), "{wait}");
        // B remembers Redis's answer without asking; A has not seen it yet but Redis has.
        assert!(b.throttled("app_a", now).is_some());
        assert!(a.take("app_a", now).await.is_err());
        // A refund on one replica gives the token back to both.
        a.give_back("app_a", now).await;
        assert_eq!(b.take("app_a", now).await, Ok(()));
    }

    #[tokio::test]
    async fn two_replicas_share_one_lockout() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            eprintln!("skipped: TEST_REDIS_URL is not set");
            return;
        };
        let prefix = format!("test:{}:", crate::random::random_base62(12));
        let replica = || {
            let errors = prometheus::IntCounter::new("e", "e").unwrap();
            let store = Arc::new(RedisStore::open(&url, &prefix, errors).unwrap());
            Lockout::new(
                LockoutPolicy {
                    free: 4,
                    base: Duration::from_secs(60),
                    max: Duration::from_secs(900),
                    forget: Duration::from_secs(3600),
                },
                1000,
            )
            .shared("login", store)
        };
        let (a, b) = (replica(), replica());
        let now = Instant::now();
        for i in 0..4 {
            let l = if i % 2 == 0 { &a } else { &b };
            assert_eq!(l.take("ada", now).await, Ok(()), "attempt {i}");
        }
        let wait = a
            .take("ada", now)
            .await
            .expect_err("locked on both replicas");
        assert!((59..=60).contains(&wait), "{wait}");
        assert!(b.take("ada", now).await.is_err());
        b.clear("ada").await;
        assert_eq!(a.take("ada", now).await, Ok(()));
    }
}
