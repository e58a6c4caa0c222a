//! Sealing a small secret at rest: XChaCha20-Poly1305 with a random 192-bit nonce and the row it
//! belongs to as associated data (a sealed value cannot be moved onto another row). The sealed
//! form is standard base64 of `nonce ‖ ciphertext`; each caller adds its own prefix (the auth
//! server's KEK `enc1:<kek id>:`, the resource API's webhook secrets `wh1:`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

pub use chacha20poly1305::Key;

const NONCE_LEN: usize = 24;

/// `plaintext` sealed under `key` for `aad`: base64(nonce ‖ ciphertext).
pub fn seal(key: &Key, aad: &[u8], plaintext: &[u8]) -> String {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = XChaCha20Poly1305::new(key)
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("invariant: XChaCha20-Poly1305 encryption of a small buffer cannot fail");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ciphertext);
    STANDARD.encode(blob)
}

/// The plaintext of a value written by [`seal`] under `key` for `aad`; `None` when it does not
/// open (another key, another row, not base64, too short, corrupt).
pub fn open(key: &Key, aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let blob = STANDARD.decode(sealed).ok()?;
    if blob.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_aad_only() {
        let key = Key::from([7; 32]);
        let sealed = seal(&key, b"row-a", b"secret");
        assert_eq!(open(&key, b"row-a", &sealed).unwrap(), b"secret");
        assert!(open(&key, b"row-b", &sealed).is_none());
        assert!(open(&Key::from([8; 32]), b"row-a", &sealed).is_none());
        assert!(open(&key, b"row-a", "not base64!").is_none());
        assert!(open(&key, b"row-a", &STANDARD.encode([0u8; 24])).is_none());
    }
}
