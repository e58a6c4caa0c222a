//! Keys a backend service signs with (feature `client`): a private key for `private_key_jwt`
//! client assertions (RFC 7523 §2.2) and a DPoP key for proofs (RFC 9449 §4).
//!
//! The algorithm follows the key, as the servers pin it (contract §7): EC P-256 → ES256,
//! Ed25519 → EdDSA, RSA ≥ 2048 bits → PS256. Keys are parsed with the RustCrypto crates and
//! signatures made by `jsonwebtoken` — no cryptography is written here.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `exp` of a client assertion, seconds after `iat` (the server allows 60 minutes; a short life
/// keeps a copied assertion useless soon — Okta's SDKs sign for 5 minutes too).
const ASSERTION_LIFETIME_SECS: i64 = 300;
/// RFC 7523 §2.2.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Why a private key cannot be used. Never carries the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable private key: {0}")]
pub struct KeyError(pub &'static str);

/// A private key and its JWS algorithm. `Debug` shows the algorithm and `kid` only.
pub struct PrivateKey {
    alg: Algorithm,
    encoding: EncodingKey,
    kid: Option<String>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn member(jwk: &Value, name: &'static str) -> Result<Vec<u8>, KeyError> {
    let text = jwk[name]
        .as_str()
        .ok_or(KeyError("a JWK member is missing or not a string"))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| KeyError("a JWK member is not base64url"))
}

impl PrivateKey {
    /// A PEM (PKCS#8, SEC 1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`, unencrypted) or a
    /// private JWK as JSON text. The JWK's `kid`, if any, becomes the assertion's `kid`
    /// ([`PrivateKey::with_kid`] replaces it).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with('{') {
            let jwk: Value =
                serde_json::from_str(text).map_err(|_| KeyError("not a PEM and not a JWK"))?;
            return Self::from_jwk(&jwk);
        }
        Self::from_pem(text)
    }

    fn from_pem(pem: &str) -> Result<Self, KeyError> {
        use p256::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(KeyError("the PEM is encrypted; decrypt it first"));
        }
        if let Ok(k) =
            p256::SecretKey::from_pkcs8_pem(pem).or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        {
            return Self::ec(&k);
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Self::ed(&k);
        }
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        {
            return Self::rsa(&k);
        }
        Err(KeyError(
            "not an EC P-256, Ed25519 or RSA private key in PEM (PKCS#8, SEC 1 or PKCS#1)",
        ))
    }

    fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        if jwk.get("d").is_none() {
            return Err(KeyError(
                "the JWK has no private part (`d`): give the private key, register the public one",
            ));
        }
        let key = match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Some("EC"), Some("P-256")) => {
                let k = p256::SecretKey::from_slice(&member(jwk, "d")?)
                    .map_err(|_| KeyError("the EC JWK's `d` is not a P-256 scalar"))?;
                Self::ec(&k)?
            }
            (Some("EC"), _) => return Err(KeyError("EC keys must be on P-256 (ES256)")),
            (Some("OKP"), Some("Ed25519")) => {
                let d: [u8; 32] = member(jwk, "d")?
                    .try_into()
                    .map_err(|_| KeyError("an Ed25519 JWK's `d` is 32 bytes"))?;
                Self::ed(&ed25519_dalek::SigningKey::from_bytes(&d))?
            }
            (Some("RSA"), _) => {
                let n = rsa::BigUint::from_bytes_be(&member(jwk, "n")?);
                let e = rsa::BigUint::from_bytes_be(&member(jwk, "e")?);
                let d = rsa::BigUint::from_bytes_be(&member(jwk, "d")?);
                let primes = match (member(jwk, "p"), member(jwk, "q")) {
                    (Ok(p), Ok(q)) => vec![
                        rsa::BigUint::from_bytes_be(&p),
                        rsa::BigUint::from_bytes_be(&q),
                    ],
                    _ => Vec::new(),
                };
                let k = rsa::RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|_| KeyError("the RSA JWK is not a valid key"))?;
                k.validate()
                    .map_err(|_| KeyError("the RSA JWK is not a valid key"))?;
                Self::rsa(&k)?
            }
            _ => {
                return Err(KeyError(
                    "unsupported JWK (EC P-256, OKP Ed25519 or RSA ≥ 2048 bits)",
                ))
            }
        };
        Ok(match jwk["kid"].as_str() {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }

    fn ec(k: &p256::SecretKey) -> Result<Self, KeyError> {
        use p256::pkcs8::EncodePrivateKey as _;
        let der = k
            .to_pkcs8_der()
            .map_err(|_| KeyError("the EC key cannot be encoded"))?;
        Ok(PrivateKey {
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            kid: None,
        })
    }

    fn ed(k: &ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let der = k
            .to_pkcs8_der()
            .map_err(|_| KeyError("the Ed25519 key cannot be encoded"))?;
        Ok(PrivateKey {
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            kid: None,
        })
    }

    fn rsa(k: &rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        if k.size() * 8 < 2048 {
            return Err(KeyError("RSA keys must have at least 2048 bits"));
        }
        let der = k
            .to_pkcs1_der()
            .map_err(|_| KeyError("the RSA key cannot be encoded"))?;
        Ok(PrivateKey {
            alg: Algorithm::PS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            kid: None,
        })
    }

    /// The `kid` the key is registered under (needed when the application has several keys).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    fn alg_name(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
            _ => "PS256",
        }
    }

    /// A compact JWS of `header` (its `alg` set here) and `claims`.
    fn sign(&self, mut header: Value, claims: &Value) -> String {
        header["alg"] = Value::String(self.alg_name().to_owned());
        let h = b64(header.to_string().as_bytes());
        let p = b64(claims.to_string().as_bytes());
        let input = format!("{h}.{p}");
        // Signing with a key parsed above cannot fail: the DER was made from that key.
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, self.alg)
            .expect("invariant: a key parsed into an EncodingKey signs");
        format!("{input}.{sig}")
    }

    /// An RFC 7523 §3 client assertion: `iss` = `sub` = `client_id`, `aud` = `audience`, `iat`
    /// `now`, `exp` 5 minutes later, a new random `jti`.
    pub fn client_assertion(&self, client_id: &str, audience: &str, now: i64) -> String {
        let mut header = json!({"typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = Value::String(kid.clone());
        }
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": audience,
            "iat": now, "exp": now + ASSERTION_LIFETIME_SECS, "jti": crate::random::random_token(),
        });
        self.sign(header, &claims)
    }
}

/// One client's DPoP key (RFC 9449): a fresh P-256 key made in memory, a new proof for every
/// request, and the latest `DPoP-Nonce` of each server (by origin).
pub struct DpopKey {
    key: PrivateKey,
    jwk: Value,
    thumbprint: String,
    nonces: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]` of a URL (the key of a server's nonce), or the URL itself.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_owned(),
    }
}

/// RFC 9449 §4.2: the URL without query and fragment.
fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

impl DpopKey {
    /// A new P-256 key from the operating system's generator.
    pub fn generate() -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let point = secret.public_key().to_encoded_point(false);
        let (x, y) = (
            point.x().expect("invariant: an uncompressed point has x"),
            point.y().expect("invariant: an uncompressed point has y"),
        );
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)});
        let thumbprint = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone())
            .expect("invariant: a P-256 public JWK parses")
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .expect("invariant: a P-256 JWK has a thumbprint");
        DpopKey {
            key: PrivateKey::ec(&secret).expect("invariant: a fresh P-256 key encodes"),
            jwk,
            thumbprint,
            nonces: Mutex::new(HashMap::new()),
        }
    }

    /// The RFC 7638 thumbprint: `cnf.jkt` of the tokens bound to this key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof of `method` `url` (query and fragment dropped) at `iat`, with `ath` of
    /// `access_token` when given and the server's last nonce when there is one.
    pub fn proof(&self, method: &str, url: &str, access_token: Option<&str>, iat: i64) -> String {
        let mut claims = json!({
            "jti": crate::random::random_token(),
            "htm": method.to_ascii_uppercase(),
            "htu": htu(url),
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = Value::String(b64(&Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = self.nonce_for(url) {
            claims["nonce"] = Value::String(nonce);
        }
        self.key
            .sign(json!({"typ": "dpop+jwt", "jwk": self.jwk}), &claims)
    }

    pub fn nonce_for(&self, url: &str) -> Option<String> {
        self.nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&origin(url))
            .cloned()
    }

    /// Remembers `url`'s server's `DPoP-Nonce` (RFC 9449 §8.2).
    pub fn note_nonce(&self, url: &str, nonce: &str) {
        if !nonce.is_empty() {
            self.nonces
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(origin(url), nonce.to_owned());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn htu_drops_query_and_fragment_and_origins_are_per_server() {
        assert_eq!(htu("http://a:1/v2/cases?page=2#x"), "http://a:1/v2/cases");
        assert_eq!(
            origin("HTTP://API.example:8080/v2/me?x"),
            "http://api.example:8080"
        );
        let k = DpopKey::generate();
        k.note_nonce("http://a:1/oauth/token", "n1");
        assert_eq!(k.nonce_for("http://a:1/other").as_deref(), Some("n1"));
        assert_eq!(k.nonce_for("http://b:1/v2/me"), None);
    }

    #[test]
    fn a_public_jwk_or_a_small_curve_is_refused() {
        let public =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert!(PrivateKey::parse(public).is_err());
        assert!(PrivateKey::parse(r#"{"kty":"EC","crv":"P-384","d":"AA"}"#).is_err());
        assert!(
            PrivateKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
