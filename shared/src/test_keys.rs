//! Test keys (feature `testing`): fixed EC P-256, Ed25519 and RSA key pairs
//! (`shared/assets/test-keys/keys.json`, generated once, used only by tests and benches) that
//! sign client assertions and DPoP proofs with any header the test wants.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

const KEYS: &str = include_str!("../assets/test-keys/keys.json");

/// One of the fixed key pairs.
pub struct TestKey {
    pub alg: Algorithm,
    /// The `alg` name (`ES256`, `EdDSA`, `PS256`).
    pub alg_name: &'static str,
    encoding: EncodingKey,
    /// The public JWK.
    pub jwk: Value,
    /// The whole entry (for a JWK with its private member: `d` of the EC keys).
    pub entry: Value,
}

impl TestKey {
    /// `es256`, `es256_b` (a second P-256 key), `eddsa`, `ps256` (RSA 2048) or `rsa1024`.
    pub fn named(name: &str) -> TestKey {
        let all: Value = serde_json::from_str(KEYS).expect("invariant: the fixture is JSON");
        let entry = all[name].clone();
        let der = URL_SAFE_NO_PAD
            .decode(entry["der"].as_str().expect("der"))
            .expect("der is base64url");
        let (alg, alg_name, encoding) = match entry["alg"].as_str() {
            Some("ES256") => (Algorithm::ES256, "ES256", EncodingKey::from_ec_der(&der)),
            Some("EdDSA") => (Algorithm::EdDSA, "EdDSA", EncodingKey::from_ed_der(&der)),
            _ => (Algorithm::PS256, "PS256", EncodingKey::from_rsa_der(&der)),
        };
        TestKey {
            alg,
            alg_name,
            encoding,
            jwk: entry["jwk"].clone(),
            entry,
        }
    }

    /// The public JWK with a `kid`.
    pub fn jwk_with_kid(&self, kid: &str) -> Value {
        let mut jwk = self.jwk.clone();
        jwk["kid"] = Value::String(kid.to_owned());
        jwk
    }

    /// Signs `claims` under `header` exactly as given (with this key's algorithm, whatever the
    /// header's `alg` says).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("json"));
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("json"));
        self.sign_segments(&h, &p)
    }

    /// Signs two already-encoded segments.
    pub fn sign_segments(&self, header: &str, payload: &str) -> String {
        let input = format!("{header}.{payload}");
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, self.alg)
            .expect("invariant: the fixture keys sign");
        format!("{input}.{sig}")
    }

    /// A DPoP proof (RFC 9449 §4.2) for `htm` `htu` at `iat`, with `ath` of `token` if given.
    pub fn dpop_proof(&self, htm: &str, htu: &str, iat: i64, token: Option<&str>) -> String {
        self.dpop_proof_with_nonce(htm, htu, iat, token, None)
    }

    /// As [`TestKey::dpop_proof`], with a server `nonce` (RFC 9449 §8).
    pub fn dpop_proof_with_nonce(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": self.alg_name, "jwk": self.jwk});
        let mut claims = serde_json::json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let Some(n) = nonce {
            claims["nonce"] = Value::String(n.to_owned());
        }
        if let Some(t) = token {
            claims["ath"] = Value::String(crate::jose::sha256_b64(t.as_bytes()));
        }
        self.sign(&header, &claims)
    }
}
