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
}
