//! Per-credential rate limits by tier (contract §4.3): a token bucket for the sustained
//! per-minute rate with its burst, plus an hourly quota.
//!
//! Headers ([`Decision::headers`]) describe two windows, the burst bucket and the hourly quota:
//!
//! - `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers) names both, e.g. for `standard`
//!   `"burst";q=50;w=10, "hour";q=10000;w=3600`: the bucket holds 50 requests and refills
//!   completely in 10 s (300 a minute, the tier's sustained rate); the hour allows 10,000.
//! - `RateLimit` gives what is left of each and when it is whole again:
//!   `"burst";r=48;t=1, "hour";r=9950;t=3011`.
//! - `X-RateLimit-Limit`/`-Remaining`/`-Reset` describe *one* of them: the one that binds now
//!   (the bucket, unless less is left of the hour), so that `Remaining` is always a count of
//!   that window's `Limit` and the number of requests that may be sent right now.
//!
//! `unlimited` credentials are never limited and get no headers.
//!
//! The limiter sits behind [`RateLimiter`] so that a shared store (e.g. Redis) can replace the
//! in-process one when several replicas must share one budget.
//!
//! With `REDIS_URL`, [`Limiter`] keeps the bucket and the hourly count in Redis (one Lua script
//! per decision, on Redis's clock) so that all replicas share one budget. A replica takes a
//! small *lease* of tokens per Redis call ([`lease_size`]: the tokens the tier refills in
//! 250 ms, 1 to 32, at most a quarter of the burst) and answers from it in memory for up to
//! [`LEASE_TTL`]. Leased tokens are taken from the shared bucket *before* they are served, so
//! replicas never admit more than the tier allows; the error is the other way: up to one
//! lease per replica may sit unused for at most [`LEASE_TTL`] (it is given back at the
//! replica's next call for that credential, or lost if the replica stops). A refusal is
//! remembered locally until the next token is due (at most [`LEASE_TTL`]), so a client over its
//! limit costs no Redis call per request. While Redis is down or slow (see
//! [`crate::redis_store`]) each replica falls back to its own in-process limiter, which goes on
//! from the bucket Redis last reported for the credential (not from a full one), so a flap or a
//! slow call refills nothing; the budget is then per replica (N replicas admit up to N times the
//! refill) until Redis answers again. A Redis *restart* forgets every bucket (it holds counters
//! only, no persistence): each credential then starts from a full bucket once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::TierLimits;

/// One window of a tier's limits, as the rate-limit headers show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The policy's name in `RateLimit-Policy` and `RateLimit`: `burst` or `hour`.
    pub name: &'static str,
    /// Requests the window holds (`q`).
    pub quota: u32,
    /// Its length in seconds (`w`): for the bucket, the time it takes to refill completely.
    pub window_secs: u64,
    /// Requests left in it now (`r`).
    pub remaining: u32,
    /// Seconds until it is whole again (`t`).
    pub reset_secs: u64,
}

/// What a limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`: those of the window that binds now
    /// ([`Decision::binding`]).
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    /// Set when refused: seconds until a request would be allowed.
    pub retry_after: Option<u64>,
    /// The token bucket (burst, refilled at the per-minute rate).
    pub burst: Window,
    /// The hourly quota.
    pub hour: Window,
}

impl Decision {
    /// A decision from the state of both windows: `tokens` in the bucket (full again in
    /// `bucket_reset_secs`), `hour_left` of the hourly quota (renewed in `hour_reset_secs`).
    pub fn new(
        allowed: bool,
        limits: TierLimits,
        tokens: u32,
        bucket_reset_secs: u64,
        hour_left: u32,
        hour_reset_secs: u64,
        retry_after: Option<u64>,
    ) -> Decision {
        let burst = Window {
            name: "burst",
            quota: limits.burst,
            window_secs: refill_secs(limits),
            remaining: tokens.min(limits.burst),
            reset_secs: bucket_reset_secs,
        };
        let hour = Window {
            name: "hour",
            quota: limits.per_hour,
            window_secs: HOUR.as_secs(),
            remaining: hour_left.min(limits.per_hour),
            reset_secs: hour_reset_secs,
        };
        let binding = if hour.remaining < burst.remaining {
            hour
        } else {
            burst
        };
        Decision {
            allowed,
            limit: binding.quota,
            remaining: binding.remaining,
            reset_secs: binding.reset_secs,
            retry_after,
            burst,
            hour,
        }
    }

    /// The window `X-RateLimit-*` describe: the bucket, unless less is left of the hour.
    pub fn binding(&self) -> Window {
        if self.hour.remaining < self.burst.remaining {
            self.hour
        } else {
            self.burst
        }
    }

    /// The response headers of this decision (lowercase names): `X-RateLimit-Limit`,
    /// `X-RateLimit-Remaining`, `X-RateLimit-Reset` of the binding window, and the IETF
    /// `RateLimit-Policy` and `RateLimit` fields naming both windows.
    pub fn headers(&self) -> [(&'static str, String); 5] {
        let windows = [self.burst, self.hour];
        let policy = windows
            .iter()
            .map(|w| format!("\"{}\";q={};w={}", w.name, w.quota, w.window_secs))
            .collect::<Vec<_>>()
            .join(", ");
        let current = windows
            .iter()
            .map(|w| format!("\"{}\";r={};t={}", w.name, w.remaining, w.reset_secs))
            .collect::<Vec<_>>()
            .join(", ");
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset_secs.to_string()),
            ("ratelimit-policy", policy),
            ("ratelimit", current),
        ]
    }
}

/// Seconds an empty bucket takes to fill up at the tier's sustained rate (at least 1).
fn refill_secs(limits: TierLimits) -> u64 {
    (u64::from(limits.burst) * 60)
        .div_ceil(u64::from(limits.per_minute.max(1)))
        .max(1)
}

pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` under `limits` at `now`.
    fn check(&self, key: &str, limits: TierLimits, now: Instant) -> Decision;
}

const HOUR: Duration = Duration::from_secs(3600);
const MAX_KEYS: usize = 200_000;

#[derive(Debug, Clone, Copy)]
struct State {
    tokens: f64,
    at: Instant,
    hour_start: Instant,
    hour_count: u32,
}

/// The in-process limiter: exact for one replica.
#[derive(Default)]
pub struct InMemoryRateLimiter {
    states: Mutex<HashMap<String, State>>,
}

impl InMemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }
}

impl RateLimiter for InMemoryRateLimiter {
    fn check(&self, key: &str, limits: TierLimits, now: Instant) -> Decision {
        let burst = f64::from(limits.burst);
        let per_sec = f64::from(limits.per_minute) / 60.0;
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.len() >= MAX_KEYS && !states.contains_key(key) {
            states.retain(|_, s| now.saturating_duration_since(s.hour_start) < HOUR);
        }
        let mut s = states.get(key).copied().unwrap_or(State {
            tokens: burst,
            at: now,
            hour_start: now,
            hour_count: 0,
        });
        s.tokens =
            (s.tokens + now.saturating_duration_since(s.at).as_secs_f64() * per_sec).min(burst);
        s.at = now;
        if now.saturating_duration_since(s.hour_start) >= HOUR {
            s.hour_start = now;
            s.hour_count = 0;
        }
        let hour_left = limits.per_hour.saturating_sub(s.hour_count);
        let allowed = s.tokens >= 1.0 && hour_left > 0;
        let retry_after = if allowed {
            s.tokens -= 1.0;
            s.hour_count += 1;
            None
        } else if hour_left == 0 {
            Some(
                (HOUR - now.saturating_duration_since(s.hour_start))
                    .as_secs()
                    .max(1),
            )
        } else {
            Some(((1.0 - s.tokens) / per_sec).ceil().max(1.0) as u64)
        };
        states.insert(key.to_owned(), s);
        let hour_reset = (HOUR.as_secs_f64()
            - now.saturating_duration_since(s.hour_start).as_secs_f64())
        .ceil()
        .max(0.0) as u64;
        Decision::new(
            allowed,
            limits,
            s.tokens.floor() as u32,
            ((burst - s.tokens) / per_sec).ceil().max(0.0) as u64,
            limits.per_hour.saturating_sub(s.hour_count),
            hour_reset,
            retry_after,
        )
    }
}

impl InMemoryRateLimiter {
    /// Sets `key`'s bucket to what the shared store last reported (`tokens` in the bucket,
    /// `hour_left` of the hourly quota), so that if the store stops answering, this replica
    /// goes on from there instead of from a full bucket: a Redis fault or a slow call does not
    /// refill the budget. (The hour window restarts now: the count carries over, the window
    /// can only be longer.)
    pub fn seed(&self, key: &str, limits: TierLimits, tokens: u32, hour_left: u32, now: Instant) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.len() >= MAX_KEYS && !states.contains_key(key) {
            return;
        }
        states.insert(
            key.to_owned(),
            State {
                tokens: f64::from(tokens.min(limits.burst)),
                at: now,
                hour_start: now,
                hour_count: limits.per_hour.saturating_sub(hour_left),
            },
        );
    }
}

/// How long a lease of tokens (or a remembered refusal) is used without asking Redis.
#[cfg(feature = "server")]
pub const LEASE_TTL: Duration = Duration::from_secs(1);

/// Tokens taken from Redis per call: what the tier refills in 250 ms, from 1 to 32, and never
/// more than a quarter of the burst (so that a few replicas cannot hold the whole burst).
/// `basic`, `standard`, `professional`: 1, 1, 4; `enterprise`: 20.
#[cfg(feature = "server")]
pub fn lease_size(limits: TierLimits) -> u32 {
    (limits.per_minute / 240)
        .clamp(1, 32)
        .min((limits.burst / 4).max(1))
}

/// Token bucket + hourly count in one hash per credential, on Redis's clock. ARGV: burst,
/// tokens per second, hourly quota, tokens wanted, unused tokens given back. Returns
/// {granted, tokens left (floor), hourly quota left, seconds until full, ms until a token}.
#[cfg(feature = "server")]
const LIMIT_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local per_hour = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local back = tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 't', 'at', 'hs', 'hc')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
local hs = tonumber(s[3]) or now
local hc = tonumber(s[4]) or 0
if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
if now - hs >= 3600 then hs = now; hc = 0 end
if back > 0 then
  tokens = math.min(burst, tokens + back)
  hc = math.max(0, hc - back)
end
local grant = math.max(0, math.min(want, math.floor(tokens), per_hour - hc))
tokens = tokens - grant
hc = hc + grant
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(math.max(now, at)), 'hs', tostring(hs), 'hc', hc)
redis.call('EXPIRE', KEYS[1], 3600)
local wait = 0
if grant == 0 then
  if per_hour - hc <= 0 then
    wait = math.ceil((3600 - (now - hs)) * 1000)
  else
    wait = math.ceil((1 - tokens) / rate * 1000)
  end
end
return {grant, math.floor(tokens), per_hour - hc, math.ceil((burst - tokens) / rate), math.max(wait, 0), math.max(0, math.ceil(3600 - (now - hs)))}
"#;

#[cfg(feature = "server")]
#[derive(Debug, Clone, Copy)]
struct Lease {
    /// Tokens still to be served from this lease.
    left: u32,
    until: Instant,
    /// What Redis reported when the lease was taken (shared bucket, hour left, resets).
    shared_tokens: u32,
    hour_left: u32,
    reset_secs: u64,
    hour_reset_secs: u64,
    /// When refused: milliseconds until a token was due.
    wait_ms: u64,
}

#[cfg(feature = "server")]
struct Shared {
    store: std::sync::Arc<crate::redis_store::RedisStore>,
    script: redis::Script,
    leases: Mutex<HashMap<String, Lease>>,
}

/// The tier limiter of a service: in process, or shared through Redis with local leases (see
/// the module documentation).
#[cfg(feature = "server")]
pub struct Limiter {
    name: &'static str,
    local: InMemoryRateLimiter,
    shared: Option<Shared>,
}

#[cfg(feature = "server")]
impl Limiter {
    /// The in-process limiter (exact for one replica).
    pub fn local() -> Limiter {
        Limiter {
            name: "",
            local: InMemoryRateLimiter::new(),
            shared: None,
        }
    }

    /// A limiter sharing its buckets through `store` under `name` (e.g. `api`, `issuance`).
    pub fn shared(
        name: &'static str,
        store: std::sync::Arc<crate::redis_store::RedisStore>,
    ) -> Limiter {
        Limiter {
            name,
            local: InMemoryRateLimiter::new(),
            shared: Some(Shared {
                store,
                script: redis::Script::new(LIMIT_SCRIPT),
                leases: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Counts one request for `key` under `limits` at `now`.
    pub async fn check(&self, key: &str, limits: TierLimits, now: Instant) -> Decision {
        let Some(shared) = &self.shared else {
            return self.local.check(key, limits, now);
        };
        let mut back = 0;
        {
            let mut leases = shared.leases.lock().unwrap_or_else(|p| p.into_inner());
            match leases.get_mut(key) {
                Some(l) if now < l.until && l.left > 0 => {
                    l.left -= 1;
                    return granted(limits, l, l.left);
                }
                Some(l) if now < l.until && l.wait_ms > 0 => {
                    return refused(limits, l);
                }
                Some(_) => {
                    back = leases.remove(key).map_or(0, |l| l.left);
                }
                None => {
                    if leases.len() >= MAX_KEYS {
                        leases.retain(|_, l| now < l.until);
                    }
                }
            }
        }
        if !shared.store.available() {
            return self.local.check(key, limits, now);
        }
        let want = lease_size(limits);
        let args = [
            limits.burst.to_string(),
            (f64::from(limits.per_minute) / 60.0).to_string(),
            limits.per_hour.to_string(),
            want.to_string(),
            back.to_string(),
        ];
        let answer: Option<(u32, u32, u32, u64, u64, u64)> = shared
            .store
            .eval(&shared.script, &shared.store.key(self.name, key), &args)
            .await;
        let Some((granted_count, shared_tokens, hour_left, reset_secs, wait_ms, hour_reset_secs)) =
            answer
        else {
            return self.local.check(key, limits, now);
        };
        let ttl = if granted_count > 0 {
            LEASE_TTL
        } else {
            Duration::from_millis(wait_ms.max(1)).min(LEASE_TTL)
        };
        let mut lease = Lease {
            left: granted_count.saturating_sub(1),
            until: now + ttl,
            shared_tokens,
            hour_left,
            reset_secs,
            hour_reset_secs,
            wait_ms,
        };
        let mut leases = shared.leases.lock().unwrap_or_else(|p| p.into_inner());
        // Concurrent requests may have taken leases meanwhile: their tokens are carried over,
        // never dropped (they are already counted in Redis).
        let carried = leases.get(key).map_or(0, |l| l.left);
        if granted_count == 0 && carried > 0 {
            if let Some(l) = leases.get_mut(key) {
                l.left -= 1;
            }
            return granted(limits, &lease, carried - 1);
        }
        lease.left += carried;
        leases.insert(key.to_owned(), lease);
        drop(leases);
        // What this replica holds and what the shared bucket has left: where its own limiter
        // goes on from if Redis stops answering.
        self.local.seed(
            key,
            limits,
            shared_tokens.saturating_add(lease.left),
            hour_left,
            now,
        );
        if granted_count == 0 {
            return refused(limits, &lease);
        }
        granted(limits, &lease, lease.left)
    }
}

/// An admitted request served from a lease: `left` tokens of it remain on this replica, beside
/// what the shared bucket held when it was taken (those are counted in Redis already, so the
/// hour's remainder includes them too).
#[cfg(feature = "server")]
fn granted(limits: TierLimits, l: &Lease, left: u32) -> Decision {
    Decision::new(
        true,
        limits,
        l.shared_tokens.saturating_add(left),
        l.reset_secs,
        l.hour_left.saturating_add(left),
        l.hour_reset_secs,
        None,
    )
}

#[cfg(feature = "server")]
fn refused(limits: TierLimits, l: &Lease) -> Decision {
    Decision::new(
        false,
        limits,
        0,
        l.reset_secs,
        l.hour_left,
        l.hour_reset_secs,
        Some(l.wait_ms.div_ceil(1000).max(1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tier;

    #[test]
    fn burst_then_sustained_rate() {
        let limiter = InMemoryRateLimiter::new();
        let limits = Tier::Basic.limits().unwrap(); // 60/min, burst 10
        let t0 = Instant::now();
        for i in 0..10 {
            let d = limiter.check("k", limits, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
            // The pair describes one window, the bucket: 10 requests, not the 60 a minute.
            assert_eq!(d.limit, 10);
        }
        let refused = limiter.check("k", limits, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Some(1));
        // One second refills one token at 60/min.
        assert!(
            limiter
                .check("k", limits, t0 + Duration::from_secs(1))
                .allowed
        );
        // Other credentials have their own budget.
        assert!(limiter.check("other", limits, t0).allowed);
    }

    #[test]
    fn hourly_quota_caps_a_steady_client() {
        let limiter = InMemoryRateLimiter::new();
        let limits = TierLimits {
            per_minute: 6000,
            per_hour: 5,
            burst: 100,
        };
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check("k", limits, t0).allowed);
        }
        let d = limiter.check("k", limits, t0 + Duration::from_secs(10));
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(3590));
        // The hour binds now: the X-RateLimit pair describes it.
        assert_eq!((d.limit, d.remaining, d.reset_secs), (5, 0, 3590));
        assert!(limiter.check("k", limits, t0 + HOUR).allowed);
    }

    #[test]
    fn headers_describe_one_window_and_both_policies() {
        let limiter = InMemoryRateLimiter::new();
        let limits = Tier::Standard.limits().unwrap(); // 300/min, 10,000/h, burst 50
        let t0 = Instant::now();
        limiter.check("k", limits, t0);
        let d = limiter.check("k", limits, t0);
        let headers = d.headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("x-ratelimit-limit"), "50");
        assert_eq!(get("x-ratelimit-remaining"), "48");
        // Two tokens at 5 a second.
        assert_eq!(get("x-ratelimit-reset"), "1");
        assert_eq!(
            get("ratelimit-policy"),
            "\"burst\";q=50;w=10, \"hour\";q=10000;w=3600"
        );
        assert_eq!(
            get("ratelimit"),
            "\"burst\";r=48;t=1, \"hour\";r=9998;t=3600"
        );
    }
}

/// Against a real Redis: `TEST_REDIS_URL` (`.ci/run` starts one); skipped with a note without it.
#[cfg(test)]
#[cfg(feature = "server")]
mod redis_tests {
    use std::sync::Arc;

    use super::*;
    use crate::redis_store::RedisStore;
    use crate::Tier;

    fn store(url: &str, prefix: &str) -> Arc<RedisStore> {
        let errors = prometheus::IntCounter::new("e", "e").unwrap();
        Arc::new(RedisStore::open(url, prefix, errors).unwrap())
    }

    fn redis_url() -> Option<String> {
        let url = std::env::var("TEST_REDIS_URL").ok();
        if url.is_none() {
            eprintln!("skipped: TEST_REDIS_URL is not set");
        }
        url
    }

    #[tokio::test]
    async fn two_replicas_share_one_burst() {
        let Some(url) = redis_url() else { return };
        let prefix = format!("test:{}:", crate::random::random_base62(12));
        // Two replicas: two limiters, two connections, one Redis.
        let (a, b) = (
            Limiter::shared("api", store(&url, &prefix)),
            Limiter::shared("api", store(&url, &prefix)),
        );
        let limits = Tier::Basic.limits().unwrap(); // burst 10
        let now = Instant::now();
        let mut allowed = 0;
        for i in 0..30 {
            let limiter = if i % 2 == 0 { &a } else { &b };
            let d = limiter.check("key:k1", limits, now).await;
            if d.allowed {
                allowed += 1;
                assert!(d.remaining < 10);
            } else {
                assert!(d.retry_after.is_some_and(|s| s >= 1));
            }
        }
        // The burst once (plus at most what refilled while the test ran), not twice.
        assert!((10..=11).contains(&allowed), "{allowed}");
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_this_replica() {
        let errors = prometheus::IntCounter::new("e", "e").unwrap();
        // Nothing listens on port 1.
        let store =
            Arc::new(RedisStore::open("redis://127.0.0.1:1/", "t:", errors.clone()).unwrap());
        let limiter = Limiter::shared("api", store.clone());
        let limits = Tier::Basic.limits().unwrap();
        let now = Instant::now();
        let allowed = futures_count(&limiter, limits, now, 15).await;
        assert_eq!(allowed, 10, "the in-process bucket answers");
        // A few faults in a row, then the backoff: Redis is not asked for every request.
        assert_eq!(
            errors.get(),
            u64::from(crate::redis_store::FAULTS_BEFORE_BACKOFF)
        );
        assert!(!store.available());
    }

    #[tokio::test]
    async fn a_redis_that_never_answers_costs_a_few_bounded_waits_then_this_replica_decides() {
        // Accepts connections (the kernel's backlog) and never answers a byte.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/", silent.local_addr().unwrap());
        let errors = prometheus::IntCounter::new("e", "e").unwrap();
        let store = Arc::new(RedisStore::open(&url, "t:", errors.clone()).unwrap());
        let limiter = Limiter::shared("api", store.clone());
        let limits = Tier::Basic.limits().unwrap();
        let allowed = futures_count(&limiter, limits, Instant::now(), 15).await;
        assert_eq!(allowed, 10, "the in-process bucket answers");
        assert_eq!(
            errors.get(),
            u64::from(crate::redis_store::FAULTS_BEFORE_BACKOFF),
            "a few timed-out calls in a row, then the backoff"
        );
        assert!(!store.available());
    }

    async fn futures_count(l: &Limiter, limits: TierLimits, now: Instant, n: usize) -> usize {
        let mut allowed = 0;
        for _ in 0..n {
            if l.check("key:k", limits, now).await.allowed {
                allowed += 1;
            }
        }
        allowed
    }
}
