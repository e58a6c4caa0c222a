//! Endpoint secrets and Standard Webhooks signatures.
//!
//! A secret is 32 random bytes, shown once as `whsec_` + standard base64 (the form every
//! Standard Webhooks library takes). It must stay usable to sign, so it cannot be stored as a
//! digest: it is sealed with XChaCha20-Poly1305 under `WEBHOOK_SECRET_KEY` (random 192-bit
//! nonce; the endpoint id as associated data, so a sealed secret cannot be moved to another
//! endpoint), stored as `wh1:<base64(nonce ‖ ciphertext)>`. The key lives only in the
//! environment of the services that seal or open secrets (the resource API, and the auth
//! server's console when it manages endpoints), never in the database.
//!
//! Signature (Standard Webhooks v1): `v1,` + base64(HMAC-SHA256(secret, `id.timestamp.body`)),
//! one per secret in `webhook-signature`, space-separated (both during a rotation's grace).

use crate::aead::Key;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "wh1:";
/// Random bytes in a secret (the specification asks for 24 to 64).
pub const SECRET_LEN: usize = 32;

/// An endpoint's signing secret. `Debug` never shows it; there is no `PartialEq`.
pub struct EndpointSecret(Vec<u8>);

impl std::fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointSecret(<redacted>)")
    }
}

impl EndpointSecret {
    pub fn generate() -> EndpointSecret {
        let bytes: [u8; SECRET_LEN] = rand::random();
        EndpointSecret(bytes.to_vec())
    }

    /// The form shown once to the caller: `whsec_` + base64.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("invariant: HMAC-SHA256 takes a key of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[EndpointSecret],
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seals and opens endpoint secrets with `WEBHOOK_SECRET_KEY`. `Debug` never shows the key.
#[derive(Clone)]
pub struct Sealer {
    key: Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Sealer {
        Sealer {
            key: Key::from(key),
        }
    }

    pub fn seal(&self, endpoint_id: &str, secret: &EndpointSecret) -> String {
        let blob = crate::aead::seal(&self.key, endpoint_id.as_bytes(), &secret.0);
        format!("{PREFIX}{blob}")
    }

    /// The secret sealed for `endpoint_id`; `None` when it does not open (another key, another
    /// endpoint's row, corruption).
    pub fn open(&self, endpoint_id: &str, stored: &str) -> Option<EndpointSecret> {
        crate::aead::open(
            &self.key,
            endpoint_id.as_bytes(),
            stored.strip_prefix(PREFIX)?,
        )
        .map(EndpointSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_endpoint() {
        let sealer = Sealer::new([1; 32]);
        let secret = EndpointSecret::generate();
        let sealed = sealer.seal("whe_a", &secret);
        assert!(!sealed.contains(&STANDARD.encode(&secret.0)));
        let opened = sealer.open("whe_a", &sealed).unwrap();
        assert_eq!(opened.to_whsec(), secret.to_whsec());
        assert!(sealer.open("whe_b", &sealed).is_none());
        assert!(Sealer::new([2; 32]).open("whe_a", &sealed).is_none());
        assert!(sealer.open("whe_a", "wh1:AAAA").is_none());
        assert_eq!(format!("{secret:?}"), "EndpointSecret(<redacted>)");
    }

    /// The example of the Standard Webhooks specification (and its reference libraries' tests).
    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let secret = EndpointSecret(key);
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(secret.to_whsec().starts_with("whsec_"));
        assert_eq!(EndpointSecret::generate().0.len(), SECRET_LEN);
    }
}
