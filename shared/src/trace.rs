//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` header.
//!
//! A request that arrives with a valid `traceparent` continues its trace (the trace id is
//! kept, the request gets a span id of its own); one without, or with an invalid header,
//! starts a new trace. While a request is served its context is current (a task-local set by
//! the request middleware), so an outbound call made on its behalf sends the same trace id
//! with a fresh span id ([`outbound_traceparent`]); a call made outside any request (a
//! background refresh) starts a trace of its own.

use std::future::Future;

/// The request and response header.
pub const TRACEPARENT: &str = "traceparent";

/// One hop of a trace: the trace id shared by every hop, this hop's span id, and the flags
/// (bit 0: sampled) passed on unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    flags: u8,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

impl TraceContext {
    /// A new trace, with random non-zero ids, sampled.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: nonzero_u128(),
            span_id: nonzero_u64(),
            flags: 0x01,
        }
    }

    /// Parses a `traceparent` header. `None` for anything the specification says to ignore:
    /// a wrong length or separator, upper-case or non-hex digits, version `ff`, an all-zero
    /// trace or parent id, or version `00` with anything after the flags.
    pub fn parse(header: &str) -> Option<TraceContext> {
        let h = header.trim_matches([' ', '\t']);
        let b = h.as_bytes();
        if !h.is_ascii() || b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = lower_hex(&h[0..2])?;
        // Version 00 is exactly 55 characters; a later version may append `-…` fields.
        if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
            return None;
        }
        let trace_id = lower_hex(&h[3..35])?;
        let span_id = u64::try_from(lower_hex(&h[36..52])?).ok()?;
        let flags = u8::try_from(lower_hex(&h[53..55])?).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The next hop of the same trace: same trace id and flags, a fresh span id.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: nonzero_u64(),
            ..*self
        }
    }

    /// The trace id as 32 lower-case hex digits, as logs and the header show it.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// This hop as a version-00 `traceparent` value.
    pub fn header_value(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }

    /// Runs `f` with this context current (see [`current`]).
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

/// The context of the request being served on this task, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|c| *c).ok()
}

/// The `traceparent` to send on an outbound call: the current trace with a fresh span id, or,
/// outside a request, a new trace.
pub fn outbound_traceparent() -> String {
    current()
        .map(|c| c.child())
        .unwrap_or_else(TraceContext::new_root)
        .header_value()
}

/// Lower-case hex only: the specification forbids upper case.
fn lower_hex(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

fn nonzero_u128() -> u128 {
    rand::random::<u128>().max(1)
}

fn nonzero_u64() -> u64 {
    rand::random::<u64>().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_is_read_and_continued() {
        let c = TraceContext::parse(VALID).unwrap();
        assert_eq!(c.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id(), "00f067aa0ba902b7");
        assert_eq!(c.header_value(), VALID);
        let next = c.child();
        assert_eq!(next.trace_id(), c.trace_id());
        assert_ne!(next.span_id(), c.span_id());
        assert!(next.header_value().ends_with("-01"));
        // A later version may carry more fields; they are ignored.
        assert!(TraceContext::parse(&format!("01{}-extra", &VALID[2..])).is_some());
    }

    #[test]
    fn invalid_headers_are_ignored() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-é4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_new_root_is_a_valid_header() {
        let root = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&root.header_value()), Some(root));
    }

    #[tokio::test]
    async fn outbound_calls_continue_the_current_trace() {
        let c = TraceContext::parse(VALID).unwrap();
        let sent = c.scope(async { outbound_traceparent() }).await;
        let sent = TraceContext::parse(&sent).unwrap();
        assert_eq!(sent.trace_id(), c.trace_id());
        assert_ne!(sent.span_id(), c.span_id());
        // Outside a request: a new trace.
        let alone = TraceContext::parse(&outbound_traceparent()).unwrap();
        assert_ne!(alone.trace_id(), c.trace_id());
    }
}
