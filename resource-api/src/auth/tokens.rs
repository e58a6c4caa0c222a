//! Access-token verification (RFC 9068) with a verified-token cache.
//!
//! Checks, in order: size, header (`typ: at+jwt`, no `jku`/`x5u`/`jwk`, a `kid` published in
//! the JWKS), signature with the algorithm the JWKS key names (so `none` and HS*-with-the-public-
//! key cannot pass), then `iss`, `aud`, `exp`, `nbf` and `iat` against an explicit time. A token
//! that passed is remembered by its SHA-256 until its `exp`, so repeat requests skip the
//! signature check; revocation and application status are checked on every request anyway.

use std::collections::HashMap;
use std::sync::RwLock;

use jsonwebtoken::Validation;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::{Environment, ScopeSet};

use super::{AuthFailure, Authenticator};

/// Allowed clock skew for `iat` and `nbf` in the future; `exp` gets none.
const LEEWAY_SECS: i64 = 30;
const MAX_CACHED: usize = 100_000;

/// The claims the resource API relies on, typed.
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    pub client_id: String,
    pub jti: String,
    pub env: Environment,
    pub scopes: ScopeSet,
    pub exp: i64,
}

#[derive(Deserialize)]
/// `iss` and `aud` are checked by `Validation` and need no field here.
struct RawClaims {
    sub: String,
    client_id: String,
    exp: i64,
    iat: i64,
    nbf: Option<i64>,
    jti: String,
    scope: String,
    env: Environment,
}

#[derive(Default)]
pub struct TokenCache {
    verified: RwLock<HashMap<[u8; 32], VerifiedClaims>>,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn verify(
        &self,
        authn: &Authenticator,
        token: &str,
        now: i64,
    ) -> Result<VerifiedClaims, AuthFailure> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(c) = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return if c.exp > now {
                Ok(c.clone())
            } else {
                Err(AuthFailure::Invalid)
            };
        }
        let claims = verify_uncached(authn, token, now).await?;
        let mut map = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED {
            map.retain(|_, c| c.exp > now);
            if map.len() >= MAX_CACHED {
                map.clear();
            }
        }
        map.insert(digest, claims.clone());
        Ok(claims)
    }
}

async fn verify_uncached(
    authn: &Authenticator,
    token: &str,
    now: i64,
) -> Result<VerifiedClaims, AuthFailure> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Malformed)?;
    if !shared::claims::is_access_token_typ(header.typ.as_deref())
        || header.jku.is_some()
        || header.x5u.is_some()
        || header.jwk.is_some()
    {
        return Err(AuthFailure::Invalid);
    }
    let kid = header.kid.ok_or(AuthFailure::Invalid)?;
    let key = authn.jwks.key(&kid).await.ok_or(AuthFailure::Invalid)?;
    if header.alg != key.algorithm {
        return Err(AuthFailure::Invalid);
    }
    let mut validation = Validation::new(key.algorithm);
    // Time checks are done below against `now`; the library would read the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[&authn.issuer]);
    validation.set_audience(&[&authn.audience]);
    let data = jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation)
        .map_err(|_| AuthFailure::Invalid)?;
    let c = data.claims;
    if c.exp <= now || c.iat > now + LEEWAY_SECS || c.nbf.is_some_and(|n| n > now + LEEWAY_SECS) {
        return Err(AuthFailure::Invalid);
    }
    if c.sub != c.client_id {
        return Err(AuthFailure::Invalid);
    }
    let scopes = ScopeSet::parse_delimited(&c.scope).map_err(|_| AuthFailure::Invalid)?;
    Ok(VerifiedClaims {
        client_id: c.client_id,
        jti: c.jti,
        env: c.env,
        scopes,
        exp: c.exp,
    })
}
