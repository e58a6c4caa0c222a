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
}

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
    pub fn throttled(&self, key: &str, now: Instant) -> Option<u64> {
        let b = self.refilled(self.buckets.get(key)?, now);
        (b.tokens < 1.0).then(|| self.wait_secs(b.tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
