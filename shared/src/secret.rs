//! Secrets as their own type: redacted when printed, compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

/// A plaintext secret (client secret, API key, admin token). `Debug` and `Display` never show
/// it, so it cannot leak through a log line or an error message by accident. There is no
/// `PartialEq`: `==` on strings stops at the first differing byte, so comparing a secret goes
/// through [`Secret::ct_eq`] (constant time) or a hash.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plaintext. Call sites are few and deliberate: hashing, and showing it once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this secret, compared in constant time.
    pub fn ct_eq(&self, candidate: &str) -> bool {
        ct_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// Constant-time equality of two byte strings. Lengths are not secret here: every value we
/// compare has a fixed, public length (digests) or leaks nothing through its length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_secret_compares_in_constant_time_by_content() {
        let s = Secret::new("hunter2");
        assert!(s.ct_eq("hunter2"));
        assert!(!s.ct_eq("hunter3"));
        assert!(!s.ct_eq("hunter"));
    }

    #[test]
    fn ct_eq_compares_content() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
