//! What one signature verification costs on this machine, single-threaded: the floor under a
//! DPoP-bound read (RFC 9449 §4.3 step 7: every proof is new, so every request verifies one)
//! and a `private_key_jwt` token request. `bench/dpop.sh` combines it with the bearer read of
//! the same run into the ceiling a DPoP read can reach here, whatever else it costs.
//!
//! Verification by `ring` with the same calls `shared::jose` makes (fixed-size ES256, Ed25519),
//! so the figure is the server's own cost, not another library's.
//!
//!     cargo run --release -p bench --bin verify-cost            # prints `ALG us_per_verify`

use std::time::{Duration, Instant};

use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair, UnparsedPublicKey};

/// Microseconds per call of `verify` (which must succeed), the best of 5 runs of `per_run`.
fn micros(per_run: u32, verify: &dyn Fn() -> bool) -> f64 {
    for _ in 0..100 {
        assert!(verify(), "a valid signature verifies");
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_run {
                assert!(verify());
            }
            start.elapsed()
        })
        .min()
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        * 1e6
        / f64::from(per_run)
}

fn main() {
    let rng = SystemRandom::new();
    // The size of a DPoP proof's signing input (header with its jwk, and the claims).
    let message = vec![b'e'; 420];

    let pkcs8 =
        signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key");
    let ec = signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .expect("P-256 key");
    let sig = ec.sign(&rng, &message).expect("ES256 signature");
    let public = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, ec.public_key());
    println!(
        "ES256 {:.1}",
        micros(4000, &|| public.verify(&message, sig.as_ref()).is_ok())
    );

    let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
    let ed = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 key");
    let sig = ed.sign(&message);
    let public = UnparsedPublicKey::new(&signature::ED25519, ed.public_key());
    println!(
        "EdDSA {:.1}",
        micros(4000, &|| public.verify(&message, sig.as_ref()).is_ok())
    );
}
