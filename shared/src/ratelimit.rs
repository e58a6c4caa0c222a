//! Per-credential rate limits by tier (contract §4.3): a token bucket for the sustained
//! per-minute rate with its burst, plus an hourly quota.
//!
//! Headers: `X-RateLimit-Limit` is the tier's per-minute rate; `X-RateLimit-Remaining` how many
//! requests may be sent right now (bucket tokens, capped by what is left of the hour);
//! `X-RateLimit-Reset` the seconds until Remaining is back at its maximum. `unlimited`
//! credentials are never limited and get no headers.
//!
//! The limiter sits behind [`RateLimiter`] so that a shared store (e.g. Redis) can replace the
//! in-process one when several replicas must share one budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::TierLimits;

/// What a limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    /// Set when refused: seconds until a request would be allowed.
    pub retry_after: Option<u64>,
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
        let remaining = (s.tokens.floor() as u32).min(limits.per_hour.saturating_sub(s.hour_count));
        Decision {
            allowed,
            limit: limits.per_minute,
            remaining,
            reset_secs: ((burst - s.tokens) / per_sec).ceil().max(0.0) as u64,
            retry_after,
        }
    }
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
            assert_eq!(d.limit, 60);
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
        assert!(limiter.check("k", limits, t0 + HOUR).allowed);
    }
}
