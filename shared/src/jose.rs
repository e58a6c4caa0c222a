//! Strict JOSE for JWTs that clients sign: RFC 7523 client assertions and RFC 9449 DPoP
//! proofs. (Access tokens, which only this project signs, have their own rule in
//! [`crate::verify`].)
//!
//! Parsing here is deliberately narrower than a general JWT library:
//! - a compact JWS of three base64url (no padding, canonical) segments, shorter than
//!   [`MAX_JWT_LEN`], with a header segment of at most [`MAX_HEADER_LEN`] characters;
//! - header and payload are JSON objects with **no duplicate member** at any depth (RFC 7515
//!   §5.2 lets a parser refuse them; two parsers picking different duplicates is a classic
//!   confusion);
//! - `alg` is one of [`ALGORITHMS`] (ES256, EdDSA, PS256: never `none`, HS*, RS256); no
//!   `x5c`, `x5u`, `jku`, `crit`, `zip` or `cty` (a nested JWT) member;
//! - a key ([`PublicJwk`]) is a public EC P-256, Ed25519 or RSA (≥ 2048-bit) JWK; a private
//!   member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) refuses it, and so does an unknown
//!   `kty` or `crv`; each key verifies exactly one algorithm (EC → ES256, OKP → EdDSA,
//!   RSA → PS256), whatever the token says.
//!
//! Signatures are verified by `ring` (the version rustls already builds: assembly P-256,
//! Ed25519 and RSA-PSS), not by jsonwebtoken's RustCrypto backend, whose P-256 verification
//! cost about eight bearer reads (docs/PERFORMANCE.md). A JWS signature is the fixed-size form
//! ring expects for ES256 (r ‖ s, 64 bytes; anything else is refused), and a P-256 key is given
//! to it as the uncompressed SEC1 point 0x04 ‖ x ‖ y, which ring checks is on the curve.
//!
//! Errors carry no part of the input, so that a caller may log them.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, OctetKeyPairParameters, OctetKeyPairType, RSAKeyParameters,
    RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::Algorithm;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A client-signed JWT of this many bytes or more is refused unread.
pub const MAX_JWT_LEN: usize = 8 * 1024;
/// The longest header segment accepted (a header with an embedded RSA key fits well inside).
pub const MAX_HEADER_LEN: usize = 2 * 1024;
/// The signature algorithms accepted from clients, as metadata advertises them.
pub const ALGORITHMS: [&str; 3] = ["ES256", "EdDSA", "PS256"];
/// At most this many keys in a registered set.
pub const MAX_KEYS: usize = 10;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a JWT or a key was refused. No variant holds any part of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoseError {
    /// Too long, not three segments, bad base64url, not a JSON object, a duplicate member.
    Malformed,
    /// `alg` is missing or not one of [`ALGORITHMS`].
    Algorithm,
    /// A header member that is refused (`x5c`, `x5u`, `jku`, `crit`, `zip`, `cty`), or a
    /// wrong `typ`.
    Header,
    /// The key is not a public EC P-256, Ed25519 or RSA ≥ 2048 key.
    Key(KeyError),
    /// The signature does not verify with the key (or the key is for another algorithm).
    Signature,
}

/// Why a JWK was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// It holds a private member.
    Private,
    /// `kty` is missing or not EC, OKP or RSA.
    KeyType,
    /// `crv` is not P-256 (EC) or Ed25519 (OKP).
    Curve,
    /// An RSA modulus under [`MIN_RSA_BITS`].
    TooSmall,
    /// A member is missing, of the wrong type or length, or not canonical base64url; or an
    /// `alg` that does not fit the key.
    Malformed,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::Private => "it contains a private key member; register public keys only",
            KeyError::KeyType => "kty must be EC, OKP or RSA",
            KeyError::Curve => "crv must be P-256 (EC) or Ed25519 (OKP)",
            KeyError::TooSmall => "an RSA modulus must be at least 2048 bits",
            KeyError::Malformed => {
                "a member is missing or malformed (x, y, n, e: canonical base64url; alg, if \
                 present, ES256 for EC, EdDSA for OKP, PS256 for RSA)"
            }
        })
    }
}

/// A public key a client registered or sent, checked as the module says.
#[derive(Clone)]
pub struct PublicJwk {
    jwk: Jwk,
    kid: Option<String>,
    alg: Algorithm,
    thumbprint: String,
    verifier: Verifier,
}

/// The verifying half of a key, in the form ring takes it.
#[derive(Clone)]
enum Verifier {
    /// The uncompressed SEC1 point 0x04 ‖ x ‖ y.
    P256([u8; 65]),
    /// The 32-byte public key.
    Ed25519([u8; 32]),
    /// Modulus and exponent, big-endian without leading zero bytes (as ring wants them).
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl Verifier {
    /// Whether `signature` is this key's signature of `message` (ES256, EdDSA or PS256 by the
    /// key's type; ring refuses a signature of the wrong length, an off-curve point, r or s
    /// out of range, an RSA key outside 2048–8192 bits).
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature::{
            RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519,
            RSA_PSS_2048_8192_SHA256,
        };
        match self {
            Verifier::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            Verifier::Ed25519(x) => UnparsedPublicKey::new(&ED25519, x)
                .verify(message, signature)
                .is_ok(),
            Verifier::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PSS_2048_8192_SHA256, message, signature)
                .is_ok(),
        }
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn b64(value: Option<&Value>) -> Result<(String, Vec<u8>), KeyError> {
    let s = value.and_then(Value::as_str).ok_or(KeyError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| KeyError::Malformed)?;
    // Canonical only: the thumbprint hashes the member as sent.
    if URL_SAFE_NO_PAD.encode(&bytes) != s {
        return Err(KeyError::Malformed);
    }
    Ok((s.to_owned(), bytes))
}

impl PublicJwk {
    /// Parses one JWK (a JSON object).
    pub fn parse(value: &Value) -> Result<PublicJwk, KeyError> {
        let obj = value.as_object().ok_or(KeyError::Malformed)?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(KeyError::Private);
        }
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(k)) if !k.is_empty() && k.len() <= 200 => Some(k.clone()),
            Some(_) => return Err(KeyError::Malformed),
        };
        let kty = obj
            .get("kty")
            .and_then(Value::as_str)
            .ok_or(KeyError::KeyType)?;
        let crv = || obj.get("crv").and_then(Value::as_str);
        let (params, alg, verifier) = match kty {
            "EC" => {
                if crv() != Some("P-256") {
                    return Err(KeyError::Curve);
                }
                let (x, xb) = b64(obj.get("x"))?;
                let (y, yb) = b64(obj.get("y"))?;
                if xb.len() != 32 || yb.len() != 32 {
                    return Err(KeyError::Malformed);
                }
                let mut point = [0u8; 65];
                point[0] = 0x04;
                point[1..33].copy_from_slice(&xb);
                point[33..].copy_from_slice(&yb);
                (
                    AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                        key_type: EllipticCurveKeyType::EC,
                        curve: EllipticCurve::P256,
                        x,
                        y,
                    }),
                    Algorithm::ES256,
                    Verifier::P256(point),
                )
            }
            "OKP" => {
                if crv() != Some("Ed25519") {
                    return Err(KeyError::Curve);
                }
                let (x, xb) = b64(obj.get("x"))?;
                let Ok(public) = <[u8; 32]>::try_from(xb.as_slice()) else {
                    return Err(KeyError::Malformed);
                };
                (
                    AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                        key_type: OctetKeyPairType::OctetKeyPair,
                        curve: EllipticCurve::Ed25519,
                        x,
                    }),
                    Algorithm::EdDSA,
                    Verifier::Ed25519(public),
                )
            }
            "RSA" => {
                let (n, nb) = b64(obj.get("n"))?;
                let (e, eb) = b64(obj.get("e"))?;
                let significant = nb.iter().skip_while(|b| **b == 0).count();
                if significant * 8 < MIN_RSA_BITS {
                    return Err(KeyError::TooSmall);
                }
                if significant > 1024 || eb.is_empty() || eb.len() > 8 {
                    return Err(KeyError::Malformed);
                }
                (
                    AlgorithmParameters::RSA(RSAKeyParameters {
                        key_type: RSAKeyType::RSA,
                        n,
                        e,
                    }),
                    Algorithm::PS256,
                    Verifier::Rsa {
                        n: strip_leading_zeros(&nb),
                        e: strip_leading_zeros(&eb),
                    },
                )
            }
            _ => return Err(KeyError::KeyType),
        };
        // An `alg` on the key must be the one algorithm its type verifies here.
        match obj.get("alg") {
            None => {}
            Some(Value::String(a)) if algorithm(a) == Some(alg) => {}
            Some(_) => return Err(KeyError::Malformed),
        }
        let jwk = Jwk {
            common: CommonParameters {
                key_id: kid.clone(),
                ..CommonParameters::default()
            },
            algorithm: params,
        };
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| KeyError::Malformed)?;
        Ok(PublicJwk {
            jwk,
            kid,
            alg,
            thumbprint,
            verifier,
        })
    }

    /// The RFC 7638 SHA-256 thumbprint (base64url), as DPoP's `cnf.jkt` names a key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies (`ES256`, `EdDSA` or `PS256`).
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key's public members only, as it is stored and shown.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.jwk).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.retain(|_, m| !m.is_null());
        }
        v
    }

    fn verifies(&self, jws: &Jws) -> bool {
        jws.header.alg == self.alg
            && self
                .verifier
                .verify(jws.signing_input.as_bytes(), &jws.signature)
    }
}

fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "ES256" => Some(Algorithm::ES256),
        "EdDSA" => Some(Algorithm::EdDSA),
        "PS256" => Some(Algorithm::PS256),
        _ => None,
    }
}

/// A registered key set (`{"keys": [...]}`): 1 to [`MAX_KEYS`] public keys; with more than
/// one, each needs a distinct `kid`.
#[derive(Debug, Clone)]
pub struct PublicJwkSet {
    keys: Vec<PublicJwk>,
}

/// Why a key set was refused: a message for the client (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwkSetError(pub String);

impl PublicJwkSet {
    pub fn parse(value: &Value) -> Result<PublicJwkSet, JwkSetError> {
        let err = |m: &str| JwkSetError(m.to_owned());
        let obj = value
            .as_object()
            .ok_or_else(|| err("jwks must be an object {\"keys\": [...]}"))?;
        let keys = obj
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| err("jwks must be an object {\"keys\": [...]}"))?;
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(err("jwks must hold from 1 to 10 keys"));
        }
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                PublicJwk::parse(k).map_err(|e| JwkSetError(format!("jwks.keys[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() > 1 {
            let kids: BTreeSet<_> = keys.iter().filter_map(PublicJwk::kid).collect();
            if kids.len() != keys.len() {
                return Err(err(
                    "with several keys, each needs a distinct kid (the assertion's kid picks one)",
                ));
            }
        }
        Ok(PublicJwkSet { keys })
    }

    /// Parses a stored set (JSON text).
    pub fn from_stored(text: &str) -> Option<PublicJwkSet> {
        let value: Value = serde_json::from_str(text).ok()?;
        PublicJwkSet::parse(&value).ok()
    }

    pub fn keys(&self) -> &[PublicJwk] {
        &self.keys
    }

    /// The public set as stored and shown.
    pub fn to_value(&self) -> Value {
        serde_json::json!({"keys": self.keys.iter().map(PublicJwk::to_value).collect::<Vec<_>>()})
    }

    /// Verifies `jws` with the key its `kid` names, or with the only key when the set has one
    /// and the JWS names none (or names that key). Without a match: [`JoseError::Signature`].
    pub fn verify(&self, jws: &Jws) -> Result<(), JoseError> {
        let key = match (jws.kid(), self.keys.as_slice()) {
            (None, [only]) => Some(only),
            (Some(kid), keys) => keys.iter().find(|k| k.kid() == Some(kid)),
            (None, _) => None,
        };
        match key {
            Some(k) if k.verifies(jws) => Ok(()),
            _ => Err(JoseError::Signature),
        }
    }
}

/// What [`Jws::parse`] makes of a header segment alone: a pure function of the segment's text,
/// so that a caller may keep it for a segment seen before (every DPoP proof of one key has the
/// same header: [`crate::dpop`] does).
pub struct Header {
    map: Map<String, Value>,
    alg: Algorithm,
}

impl Header {
    /// Checks a header segment as the module says: [`JoseError::Malformed`], then
    /// [`JoseError::Algorithm`], then [`JoseError::Header`].
    pub fn parse(segment: &str) -> Result<Header, JoseError> {
        if segment.len() > MAX_HEADER_LEN || segment.is_empty() {
            return Err(JoseError::Malformed);
        }
        let map = strict_object(segment)?;
        let alg = map
            .get("alg")
            .and_then(Value::as_str)
            .and_then(algorithm)
            .ok_or(JoseError::Algorithm)?;
        const REFUSED: [&str; 6] = ["x5c", "x5u", "jku", "crit", "zip", "cty"];
        if REFUSED.iter().any(|m| map.contains_key(*m)) {
            return Err(JoseError::Header);
        }
        match map.get("kid") {
            None | Some(Value::String(_)) => {}
            Some(_) => return Err(JoseError::Header),
        }
        Ok(Header { map, alg })
    }
}

/// A parsed compact JWS whose signature has not been checked yet.
pub struct Jws {
    header: Arc<Header>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// The three segments of a compact JWS within the size limits, or [`JoseError::Malformed`].
pub fn segments(token: &str) -> Result<(&str, &str, &str), JoseError> {
    if token.len() >= MAX_JWT_LEN {
        return Err(JoseError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    if h.len() > MAX_HEADER_LEN || h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(JoseError::Malformed);
    }
    Ok((h, p, s))
}

impl Jws {
    /// Parses `token` as the module says, without checking the signature.
    pub fn parse(token: &str) -> Result<Jws, JoseError> {
        Jws::parse_with(token, |h| Header::parse(h).map(Arc::new))
    }

    /// As [`Jws::parse`], with the header what `header` makes of the token's header segment
    /// ([`Header::parse`]'s result, or a cached one). The refusals come in the same order: a
    /// malformed header, payload or signature before a refused algorithm or header member.
    pub fn parse_with(
        token: &str,
        header: impl FnOnce(&str) -> Result<Arc<Header>, JoseError>,
    ) -> Result<Jws, JoseError> {
        let (h, p, s) = segments(token)?;
        let header = match header(h) {
            Err(JoseError::Malformed) => return Err(JoseError::Malformed),
            other => other,
        };
        let claims = strict_object(p)?;
        // The signature must be canonical base64url too (its bytes are checked by the verifier).
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| JoseError::Malformed)?;
        if URL_SAFE_NO_PAD.encode(&sig) != s {
            return Err(JoseError::Malformed);
        }
        Ok(Jws {
            header: header?,
            claims,
            signing_input: format!("{h}.{p}"),
            signature: sig,
        })
    }

    pub fn header(&self) -> &Map<String, Value> {
        &self.header.map
    }

    /// The parsed header, to share (a cache of checked headers keeps it).
    pub fn shared_header(&self) -> Arc<Header> {
        self.header.clone()
    }

    /// The header segment as the token spelled it.
    pub fn header_segment(&self) -> &str {
        self.signing_input
            .split_once('.')
            .map_or(self.signing_input.as_str(), |(h, _)| h)
    }

    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.map.get("kid").and_then(Value::as_str)
    }

    /// The `typ` header, if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.map.get("typ").and_then(Value::as_str)
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim (whole seconds; a fraction is cut).
    pub fn claim_time(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    }

    /// Verifies the signature with `key` (the JWS's `alg` must be the key's).
    pub fn verify_with(&self, key: &PublicJwk) -> Result<(), JoseError> {
        if key.verifies(self) {
            Ok(())
        } else {
            Err(JoseError::Signature)
        }
    }
}

fn strict_object(segment: &str) -> Result<Map<String, Value>, JoseError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JoseError::Malformed)?;
    if URL_SAFE_NO_PAD.encode(&bytes) != segment {
        return Err(JoseError::Malformed);
    }
    match strict_json(&bytes)? {
        Value::Object(m) => Ok(m),
        _ => Err(JoseError::Malformed),
    }
}

/// Parses JSON, refusing a duplicate object member at any depth.
pub fn strict_json(bytes: &[u8]) -> Result<Value, JoseError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Strict::deserialize(&mut de).map_err(|_| JoseError::Malformed)?;
    de.end().map_err(|_| JoseError::Malformed)?;
    Ok(v.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON without duplicate members")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.insert(key, v).is_some() {
                return Err(de::Error::custom("duplicate member"));
            }
        }
        Ok(Value::Object(out))
    }
}

/// base64url of SHA-256 (DPoP's `ath`).
pub fn sha256_b64(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seg(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        assert!(strict_json(br#"{"a":1,"a":2}"#).is_err());
        assert!(strict_json(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(strict_json(br#"{"a":[{"b":1},{"b":1}]}"#).is_ok());
    }

    #[test]
    fn refused_headers_and_algorithms() {
        for (header, want) in [
            (json!({"alg": "none"}), JoseError::Algorithm),
            (json!({"alg": "HS256"}), JoseError::Algorithm),
            (json!({"alg": "RS256"}), JoseError::Algorithm),
            (json!({"alg": "ES256", "x5c": ["AA"]}), JoseError::Header),
            (
                json!({"alg": "ES256", "jku": "http://x"}),
                JoseError::Header,
            ),
            (json!({"alg": "ES256", "cty": "JWT"}), JoseError::Header),
        ] {
            let t = format!("{}.{}.AAAA", seg(&header), seg(&json!({})));
            assert_eq!(Jws::parse(&t).err(), Some(want), "{header}");
        }
        assert_eq!(Jws::parse("a.b").err(), Some(JoseError::Malformed));
        assert_eq!(Jws::parse("!!.!!.!!").err(), Some(JoseError::Malformed));
        let long = format!(
            "{}.{}.AAAA",
            seg(&json!({"alg": "ES256"})),
            "A".repeat(9000)
        );
        assert_eq!(Jws::parse(&long).err(), Some(JoseError::Malformed));
    }

    #[test]
    fn keys_must_be_public_and_known() {
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let ok = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        assert!(PublicJwk::parse(&ok).is_ok());
        let mut private = ok.clone();
        private["d"] = json!(x);
        assert_eq!(PublicJwk::parse(&private).err(), Some(KeyError::Private));
        let other = json!({"kty": "OKP", "crv": "X25519", "x": x});
        assert_eq!(PublicJwk::parse(&other).err(), Some(KeyError::Curve));
        let oct = json!({"kty": "oct", "k": x});
        assert_eq!(PublicJwk::parse(&oct).err(), Some(KeyError::Private));
        let small = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB"});
        assert_eq!(PublicJwk::parse(&small).err(), Some(KeyError::TooSmall));
        let wrong_alg = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "ES256"});
        assert_eq!(
            PublicJwk::parse(&wrong_alg).err(),
            Some(KeyError::Malformed)
        );
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({"kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "PS256"});
        assert_eq!(
            PublicJwk::parse(&jwk).unwrap().thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// The ring path, signed by the fixture keys (`test_keys`, feature `testing`, which the
    /// workspace's test run enables).
    #[cfg(feature = "testing")]
    mod signatures {
        use super::*;
        use crate::test_keys::TestKey;

        /// P-256's group order, big-endian.
        const P256_N: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ];
        /// Ed25519's group order L, little-endian.
        const ED25519_L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x10,
        ];

        fn signed(key: &TestKey) -> String {
            key.sign(
                &json!({"alg": key.alg_name, "typ": "JWT"}),
                &json!({"iss": "c", "jti": "1"}),
            )
        }

        /// `token` with its signature bytes replaced by `f(bytes)`.
        fn resigned(token: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
            f(&mut bytes);
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
        }

        fn verify(token: &str, jwk: &Value) -> Result<(), JoseError> {
            let key = PublicJwk::parse(jwk).map_err(JoseError::Key)?;
            Jws::parse(token)?.verify_with(&key)
        }

        #[test]
        fn each_algorithm_verifies_with_its_key_only() {
            for name in ["es256", "eddsa", "ps256"] {
                let key = TestKey::named(name);
                let token = signed(&key);
                assert_eq!(verify(&token, &key.jwk), Ok(()), "{name}");
                // Through a set, by kid and as its only key.
                let set = PublicJwkSet::parse(&json!({"keys": [key.jwk]})).unwrap();
                assert_eq!(set.verify(&Jws::parse(&token).unwrap()), Ok(()), "{name}");
                // Any other key refuses it.
                for other in ["es256", "es256_b", "eddsa", "ps256"] {
                    if other != name {
                        let jwk = TestKey::named(other).jwk;
                        assert_eq!(
                            verify(&token, &jwk),
                            Err(JoseError::Signature),
                            "{name} by {other}"
                        );
                    }
                }
                // A changed payload does not verify.
                let (h, rest) = token.split_once('.').unwrap();
                let (_, sig) = rest.split_once('.').unwrap();
                let other = URL_SAFE_NO_PAD.encode(br#"{"iss":"d","jti":"1"}"#);
                assert_eq!(
                    verify(&format!("{h}.{other}.{sig}"), &key.jwk),
                    Err(JoseError::Signature),
                    "{name}"
                );
            }
        }

        #[test]
        fn the_header_alg_must_be_the_keys() {
            // An ES256 key never verifies a token whose header says EdDSA, even a signature
            // the key made.
            let key = TestKey::named("es256");
            let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA"}"#);
            let token = key.sign_segments(&h, &URL_SAFE_NO_PAD.encode(b"{}"));
            assert_eq!(verify(&token, &key.jwk), Err(JoseError::Signature));
        }

        #[test]
        fn signatures_of_the_wrong_length_are_refused() {
            for name in ["es256", "eddsa", "ps256"] {
                let key = TestKey::named(name);
                let token = signed(&key);
                let short = resigned(&token, |b| {
                    b.pop();
                });
                assert_eq!(
                    verify(&short, &key.jwk),
                    Err(JoseError::Signature),
                    "{name}"
                );
                let long = resigned(&token, |b| b.push(0));
                assert_eq!(verify(&long, &key.jwk), Err(JoseError::Signature), "{name}");
            }
            // ES256 as DER (what a non-JWS ECDSA library emits) is not r ‖ s.
            let key = TestKey::named("es256");
            let der = resigned(&signed(&key), |b| {
                let (r, s) = b.split_at(32);
                let int = |v: &[u8]| {
                    let mut out = vec![0x02, 33, 0];
                    out.extend_from_slice(v);
                    out
                };
                let (r, s) = (int(r), int(s));
                let mut out = vec![0x30, (r.len() + s.len()) as u8];
                out.extend(r);
                out.extend(s);
                *b = out;
            });
            assert_eq!(verify(&der, &key.jwk), Err(JoseError::Signature));
        }

        #[test]
        fn out_of_range_ecdsa_scalars_are_refused() {
            let key = TestKey::named("es256");
            let token = signed(&key);
            // r = 0, s = 0, s = n (non-canonical), r = n.
            for (at, value) in [(0, [0u8; 32]), (32, [0u8; 32]), (32, P256_N), (0, P256_N)] {
                let bad = resigned(&token, |b| b[at..at + 32].copy_from_slice(&value));
                assert_eq!(verify(&bad, &key.jwk), Err(JoseError::Signature), "{at}");
            }
            // High S (n − s) is the same signature in ECDSA's algebra: RFC 7518 has no low-S
            // rule and ring accepts it, as the RustCrypto backend did. It cannot replay
            // anything: the payload (and its jti) is what is signed, and single use keys on
            // the jti, never on the signature bytes.
            let high = resigned(&token, |b| {
                let mut borrow = 0i16;
                for i in (0..32).rev() {
                    let d = i16::from(P256_N[i]) - i16::from(b[32 + i]) - borrow;
                    b[32 + i] = d.rem_euclid(256) as u8;
                    borrow = i16::from(d < 0);
                }
            });
            assert_eq!(verify(&high, &key.jwk), Ok(()));
        }

        #[test]
        fn a_non_canonical_ed25519_s_is_refused() {
            // S + L verifies the same equation; RFC 8032 §5.1.7 requires S < L.
            let key = TestKey::named("eddsa");
            let token = signed(&key);
            let bad = resigned(&token, |b| {
                let mut carry = 0u16;
                for i in 0..32 {
                    let v = u16::from(b[32 + i]) + u16::from(ED25519_L[i]) + carry;
                    b[32 + i] = v as u8;
                    carry = v >> 8;
                }
            });
            assert_eq!(verify(&bad, &key.jwk), Err(JoseError::Signature));
        }

        #[test]
        fn malformed_points_are_refused() {
            let key = TestKey::named("es256");
            let token = signed(&key);
            // Not on the curve: y changed.
            let mut off = key.jwk.clone();
            let mut y = URL_SAFE_NO_PAD.decode(off["y"].as_str().unwrap()).unwrap();
            y[31] ^= 1;
            off["y"] = json!(URL_SAFE_NO_PAD.encode(&y));
            assert_eq!(verify(&token, &off), Err(JoseError::Signature));
            // The point at infinity's encodings and zeros.
            let mut zero = key.jwk.clone();
            zero["x"] = json!(URL_SAFE_NO_PAD.encode([0u8; 32]));
            zero["y"] = json!(URL_SAFE_NO_PAD.encode([0u8; 32]));
            assert_eq!(verify(&token, &zero), Err(JoseError::Signature));
            // Wrong lengths are refused when the key is read.
            for (member, len) in [("x", 31), ("y", 33), ("x", 0)] {
                let mut bad = key.jwk.clone();
                bad[member] = json!(URL_SAFE_NO_PAD.encode(vec![7u8; len]));
                assert_eq!(
                    PublicJwk::parse(&bad).err(),
                    Some(KeyError::Malformed),
                    "{member} {len}"
                );
            }
            let ed = TestKey::named("eddsa");
            let mut short = ed.jwk.clone();
            short["x"] = json!(URL_SAFE_NO_PAD.encode([7u8; 31]));
            assert_eq!(PublicJwk::parse(&short).err(), Some(KeyError::Malformed));
        }

        #[test]
        fn an_rsa_modulus_with_a_leading_zero_byte_verifies() {
            // Some encoders keep a sign byte: the key is the same, ring wants it stripped.
            let key = TestKey::named("ps256");
            let mut jwk = key.jwk.clone();
            let mut n = vec![0u8];
            n.extend(URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap());
            jwk["n"] = json!(URL_SAFE_NO_PAD.encode(&n));
            assert_eq!(verify(&signed(&key), &jwk), Ok(()));
        }
    }
}
