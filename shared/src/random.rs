//! Random text for ids and secrets, from the thread-local CSPRNG (OS-seeded).

use rand::distributions::Alphanumeric;
use rand::Rng;

/// `len` random base62 characters (`A-Za-z0-9`): about 5.95 bits each.
pub fn random_base62(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// 32 random bytes (256 bits), base64url without padding: 43 characters. Console session ids,
/// setup-link tokens, the login form's CSRF token.
pub fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_has_the_length_and_alphabet_asked_for() {
        let s = random_base62(43);
        assert_eq!(s.len(), 43);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        assert_ne!(random_base62(20), random_base62(20));
    }

    #[test]
    fn tokens_are_256_bits_of_base64url() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }
}
