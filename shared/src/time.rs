//! Timestamps. The database stores Unix microseconds (`BIGINT`) so that both backends sort and
//! compare them the same way; the API shows RFC 3339 UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in Unix microseconds: the one clock both services read. Only the outermost layer
/// (handlers, the CLI, background loops) calls it; everything below takes the time as a
/// parameter.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Unix microseconds of `t`.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of Unix microseconds `us` (clamped into chrono's range).
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// RFC 3339 UTC with second precision and a `Z`, e.g. `2026-11-23T11:05:35Z`.
pub fn rfc3339(us: i64) -> String {
    from_micros(us).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 timestamp (any offset) into Unix microseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| to_micros(t.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_rfc3339() {
        let us = parse_rfc3339("2026-11-23T11:05:35+01:00").unwrap();
        assert_eq!(rfc3339(us), "2026-11-23T10:05:35Z");
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
