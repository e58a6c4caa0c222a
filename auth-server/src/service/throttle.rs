//! Per-client throttling of failed authentications: a token bucket of failures.
//!
//! Each failed attempt for a `client_id` takes one token from a bucket of [`BURST`] that refills
//! at one token per [`REFILL`]. An empty bucket answers 429 with the time until the next token.
//! A guesser is held to about ten tries a minute, and the real client is blocked only while
//! failures keep arriving — and not even then once it has authenticated recently, because a
//! cached verified credential bypasses the throttle (see `client_auth`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in a burst.
pub const BURST: f64 = 10.0;
/// One failure token comes back this often.
pub const REFILL: Duration = Duration::from_secs(6);
/// Entries kept at most; full buckets are dropped first when it is reached.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct FailureThrottle {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refilled(self, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Bucket {
            tokens: (self.tokens + elapsed / REFILL.as_secs_f64()).min(BURST),
            at: now,
        }
    }
}

impl FailureThrottle {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(seconds)` to wait when `client_id` has no failure tokens left.
    pub fn check(&self, client_id: &str, now: Instant) -> Option<u64> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.get(client_id)?.refilled(now);
        if bucket.tokens >= 1.0 {
            None
        } else {
            let wait = (1.0 - bucket.tokens) * REFILL.as_secs_f64();
            Some(wait.ceil().max(1.0) as u64)
        }
    }

    /// Records one failed attempt.
    pub fn record_failure(&self, client_id: &str, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_ENTRIES && !buckets.contains_key(client_id) {
            buckets.retain(|_, b| b.refilled(now).tokens < BURST);
            if buckets.len() >= MAX_ENTRIES {
                // Under a flood of distinct ids, forget everything rather than grow without bound.
                buckets.clear();
            }
        }
        let bucket = buckets
            .get(client_id)
            .copied()
            .unwrap_or(Bucket {
                tokens: BURST,
                at: now,
            })
            .refilled(now);
        buckets.insert(
            client_id.to_owned(),
            Bucket {
                tokens: (bucket.tokens - 1.0).max(0.0),
                at: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_then_throttled_then_recovers() {
        let t = FailureThrottle::new();
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(t.check("app_a", start), None);
            t.record_failure("app_a", start);
        }
        let wait = t
            .check("app_a", start)
            .expect("throttled after ten failures");
        assert!((1..=6).contains(&wait), "{wait}");
        // Another client is unaffected.
        assert_eq!(t.check("app_b", start), None);
        // One refill period later one attempt is allowed again.
        assert_eq!(t.check("app_a", start + REFILL), None);
    }

    #[test]
    fn unknown_clients_are_not_throttled() {
        assert_eq!(
            FailureThrottle::new().check("never-seen", Instant::now()),
            None
        );
    }
}
