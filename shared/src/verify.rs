//! The one access-token verification rule, used by the auth server (introspection, revocation)
//! and the resource API alike, so that the two can never disagree on what a valid token is.
//!
//! A token is valid when, in this order:
//! - it is at most [`MAX_TOKEN_LEN`] bytes;
//! - its header names `alg: EdDSA` (pinned: never taken from the key or the token), `typ:
//!   at+jwt` (RFC 9068 §4), a `kid`, and no `jku`, `x5u` or `jwk`;
//! - its signature verifies with the published Ed25519 key the caller found for that `kid`;
//! - `iss` and `aud` are the expected ones, and `sub` equals `client_id` (RFC 9068 §2.2 for the
//!   client-credentials grant);
//! - `exp - iat` is a lifetime this issuer signs ([`plausible_lifetime`]);
//! - at the time given: `exp` has not passed (no leeway), and neither `iat` nor `nbf` is more
//!   than [`LEEWAY_SECS`] in the future.
//!
//! Time is a parameter: [`Time::At`] checks it, [`Time::Ignored`] (revocation of an expired
//! token must still learn whose it was) skips only the time checks. Callers learn why a token
//! was refused ([`Rejection`]) for their metrics and logs; clients never do.
//!
//! Invariant: a key that is not an Ed25519 public key is never used ([`is_ed25519_jwk`]), so an
//! RSA or HMAC key published under some `kid` cannot verify anything.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::claims::{is_access_token_typ, plausible_lifetime, AccessTokenClaims, LEEWAY_SECS};

/// The only signature algorithm of access tokens, on both sides.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;

/// Longer tokens are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// When a token is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// At this Unix time (seconds).
    At(i64),
    /// Without the time checks (`exp`, `iat`, `nbf`); every other check still applies.
    Ignored,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a JWT at all, or too long.
    Malformed,
    /// Another `alg` or `typ`, no `kid`, or a `jku`/`x5u`/`jwk` header.
    Header,
    /// The signature, `iss`, `aud` or a required claim failed.
    Signature,
    /// `sub` is not `client_id`.
    Subject,
    /// `exp - iat` is not a lifetime this issuer signs.
    Lifetime,
    /// `exp` has passed.
    Expired,
    /// `iat` or `nbf` is in the future beyond the leeway.
    NotYetValid,
}

/// Checks the header alone and returns the `kid` the caller must find the key for.
pub fn header_kid(token: &str) -> Result<String, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Rejection::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
    if header.alg != ALGORITHM
        || !is_access_token_typ(header.typ.as_deref())
        || header.jku.is_some()
        || header.x5u.is_some()
        || header.jwk.is_some()
    {
        return Err(Rejection::Header);
    }
    header.kid.ok_or(Rejection::Header)
}

/// Verifies `token` with `key` (the Ed25519 key published under its `kid`) and returns its
/// claims: the whole rule in the module documentation.
pub fn verify(
    token: &str,
    key: &DecodingKey,
    issuer: &str,
    audience: &str,
    time: Time,
) -> Result<AccessTokenClaims, Rejection> {
    header_kid(token)?;
    let mut validation = Validation::new(ALGORITHM);
    // Time is checked below against the parameter; the library would read the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation)
        .map_err(|_| Rejection::Signature)?
        .claims;
    check_claims(&claims, time)?;
    Ok(claims)
}

/// The checks on claims whose signature, `iss` and `aud` verified.
pub fn check_claims(claims: &AccessTokenClaims, time: Time) -> Result<(), Rejection> {
    if claims.sub != claims.client_id {
        return Err(Rejection::Subject);
    }
    if !plausible_lifetime(claims.iat, claims.exp) {
        return Err(Rejection::Lifetime);
    }
    if let Time::At(now) = time {
        if claims.exp <= now {
            return Err(Rejection::Expired);
        }
        if claims.iat > now + LEEWAY_SECS || claims.nbf.is_some_and(|n| n > now + LEEWAY_SECS) {
            return Err(Rejection::NotYetValid);
        }
    }
    Ok(())
}

/// Whether a JWK from a key set may verify access tokens: an Ed25519 public key (`kty: OKP`,
/// `crv: Ed25519`) whose `alg`, if present, is `EdDSA`. Anything else — RSA, EC, HMAC (`oct`),
/// X25519, or an Ed25519 key labelled with another `alg` — is ignored when the set is built.
pub fn is_ed25519_jwk(jwk: &jsonwebtoken::jwk::Jwk) -> bool {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm};
    let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
        return false;
    };
    okp.curve == EllipticCurve::Ed25519
        && matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::EdDSA))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::ACCESS_TOKEN_LIFETIME_SECS;
    use crate::Environment;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{json, Value};

    const NOW: i64 = 1_700_000_000;

    fn keys() -> (EncodingKey, DecodingKey, String) {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let der = signing.to_pkcs8_der().unwrap();
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
        (
            EncodingKey::from_ed_der(der.as_bytes()),
            DecodingKey::from_ed_components(&x).unwrap(),
            x,
        )
    }

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "http://iss".into(),
            sub: "app_1".into(),
            client_id: "app_1".into(),
            aud: "api".into(),
            iat: NOW,
            exp: NOW + ACCESS_TOKEN_LIFETIME_SECS,
            nbf: None,
            jti: "j".into(),
            scope: "cases:read".into(),
            env: Environment::Sandbox,
            cnf: None,
        }
    }

    fn header() -> Header {
        let mut h = Header::new(ALGORITHM);
        h.typ = Some("at+jwt".into());
        h.kid = Some("k1".into());
        h
    }

    fn sign(h: &Header, claims: &impl serde::Serialize) -> String {
        jsonwebtoken::encode(h, claims, &keys().0).unwrap()
    }

    fn check(token: &str) -> Result<AccessTokenClaims, Rejection> {
        verify(token, &keys().1, "http://iss", "api", Time::At(NOW + 1))
    }

    #[test]
    fn a_valid_token_verifies_and_names_its_kid() {
        let token = sign(&header(), &claims());
        assert_eq!(header_kid(&token), Ok("k1".into()));
        assert_eq!(check(&token), Ok(claims()));
    }

    #[test]
    fn each_failing_header_is_refused() {
        let c = claims();
        let mut no_typ = header();
        no_typ.typ = Some("JWT".into());
        assert_eq!(check(&sign(&no_typ, &c)), Err(Rejection::Header));
        let mut no_kid = header();
        no_kid.kid = None;
        assert_eq!(check(&sign(&no_kid, &c)), Err(Rejection::Header));
        let mut jku = header();
        jku.jku = Some("http://evil/jwks".into());
        assert_eq!(check(&sign(&jku, &c)), Err(Rejection::Header));
        // HS256 signed with the public key's bytes (the algorithm-confusion attack).
        let mut hs = header();
        hs.alg = Algorithm::HS256;
        let confused =
            jsonwebtoken::encode(&hs, &c, &EncodingKey::from_secret(keys().2.as_bytes())).unwrap();
        assert_eq!(check(&confused), Err(Rejection::Header));
        assert_eq!(check("not.a.jwt"), Err(Rejection::Malformed));
        assert_eq!(
            check(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn each_failing_claim_is_refused() {
        let refused = |edit: &dyn Fn(&mut Value)| {
            let mut c = serde_json::to_value(claims()).unwrap();
            edit(&mut c);
            check(&sign(&header(), &c)).unwrap_err()
        };
        assert_eq!(
            refused(&|c| c["iss"] = json!("http://other")),
            Rejection::Signature
        );
        assert_eq!(
            refused(&|c| c["aud"] = json!("other")),
            Rejection::Signature
        );
        assert_eq!(refused(&|c| c["sub"] = json!("app_2")), Rejection::Subject);
        assert_eq!(refused(&|c| c["exp"] = json!(NOW + 1)), Rejection::Expired);
        assert_eq!(refused(&|c| c["exp"] = json!(NOW)), Rejection::Lifetime);
        assert_eq!(
            refused(&|c| c["exp"] = json!(NOW + 100 * 365 * 24 * 3600)),
            Rejection::Lifetime
        );
        let later = NOW + 1 + LEEWAY_SECS + 1;
        assert_eq!(
            refused(&|c| {
                c["iat"] = json!(later);
                c["exp"] = json!(later + ACCESS_TOKEN_LIFETIME_SECS);
            }),
            Rejection::NotYetValid
        );
        assert_eq!(
            refused(&|c| c["nbf"] = json!(later)),
            Rejection::NotYetValid
        );
        for required in ["exp", "iss", "aud", "sub", "client_id", "jti", "env"] {
            assert_eq!(
                refused(&|c| {
                    c.as_object_mut().unwrap().remove(required);
                }),
                Rejection::Signature,
                "without {required}"
            );
        }
        // Inside the leeway: accepted.
        let mut c = serde_json::to_value(claims()).unwrap();
        c["nbf"] = json!(NOW + 1 + LEEWAY_SECS);
        assert!(check(&sign(&header(), &c)).is_ok());
    }

    #[test]
    fn a_signature_from_another_key_is_refused() {
        let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
        let der = other.to_pkcs8_der().unwrap();
        let token = jsonwebtoken::encode(
            &header(),
            &claims(),
            &EncodingKey::from_ed_der(der.as_bytes()),
        )
        .unwrap();
        assert_eq!(check(&token), Err(Rejection::Signature));
    }

    #[test]
    fn ignoring_time_skips_only_the_time_checks() {
        let token = sign(&header(), &claims());
        let long_after = Time::At(NOW + 10 * ACCESS_TOKEN_LIFETIME_SECS);
        assert_eq!(
            verify(&token, &keys().1, "http://iss", "api", long_after),
            Err(Rejection::Expired)
        );
        assert!(verify(&token, &keys().1, "http://iss", "api", Time::Ignored).is_ok());
        let mut c = claims();
        c.sub = "app_2".into();
        let token = sign(&header(), &c);
        assert_eq!(
            verify(&token, &keys().1, "http://iss", "api", Time::Ignored),
            Err(Rejection::Subject)
        );
    }

    #[test]
    fn only_ed25519_jwks_are_usable() {
        let (_, _, x) = keys();
        let jwk = |v: Value| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(v).unwrap();
        assert!(is_ed25519_jwk(&jwk(
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", "alg": "EdDSA"})
        )));
        assert!(is_ed25519_jwk(&jwk(
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k"})
        )));
        assert!(!is_ed25519_jwk(&jwk(
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", "alg": "RS256"})
        )));
        assert!(!is_ed25519_jwk(&jwk(
            json!({"kty": "OKP", "crv": "X25519", "x": x, "kid": "k"})
        )));
        assert!(!is_ed25519_jwk(&jwk(
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "k", "alg": "HS256"})
        )));
        assert!(!is_ed25519_jwk(&jwk(
            json!({"kty": "RSA", "kid": "k", "alg": "RS256",
            "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
            "e": "AQAB"})
        )));
    }
}
