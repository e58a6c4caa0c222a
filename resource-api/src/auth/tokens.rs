//! Access-token verification (RFC 9068) with a verified-token cache.
//!
//! Checks, in order: size, header (`typ: at+jwt`, no `jku`/`x5u`/`jwk`, a `kid` published in
//! the JWKS), signature with the algorithm the JWKS key names (so `none` and HS*-with-the-public-
//! key cannot pass), then `iss`, `aud`, `exp`, `nbf` and `iat` against an explicit time. A token
//! that passed is remembered by its SHA-256 until its `exp`, so repeat requests skip the
//! signature check; revocation, the signing key's publication and the application's current
//! row are checked on every request anyway (see `Authenticator::verify`).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Validation;
use moka::sync::Cache;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::claims::{plausible_lifetime, ACCESS_TOKEN_LIFETIME_SECS, LEEWAY_SECS};
use shared::{Environment, ScopeSet};

use super::{AuthFailure, Authenticator};

const MAX_CACHED: u64 = 100_000;

/// The claims the resource API relies on, typed.
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    pub client_id: String,
    pub jti: String,
    pub kid: String,
    pub env: Environment,
    pub scopes: ScopeSet,
    pub iat: i64,
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

/// Verified tokens by SHA-256, bounded in size (least-recently used entries go first) and never
/// kept past a token lifetime.
pub struct TokenCache {
    verified: Cache<[u8; 32], Arc<VerifiedClaims>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            verified: Cache::builder()
                .max_capacity(MAX_CACHED)
                .time_to_live(Duration::from_secs(ACCESS_TOKEN_LIFETIME_SECS as u64))
                .build(),
        }
    }
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The claims of a valid token, from the cache when it was verified before. `cached_only`
    /// answers `NotInMemory` instead of verifying a token seen for the first time.
    pub async fn verify(
        &self,
        authn: &Authenticator,
        token: &str,
        now: i64,
        cached_only: bool,
    ) -> Result<Arc<VerifiedClaims>, AuthFailure> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(c) = self.verified.get(&digest) {
            return if c.exp > now {
                Ok(c)
            } else {
                Err(AuthFailure::Invalid)
            };
        }
        if cached_only {
            return Err(AuthFailure::Throttled);
        }
        let claims = Arc::new(verify_uncached(authn, token, now).await?);
        self.verified.insert(digest, claims.clone());
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
    if authn.state.kid_unpublished(&kid) {
        return Err(AuthFailure::Invalid);
    }
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
    if c.exp <= now
        || c.iat > now + LEEWAY_SECS
        || c.nbf.is_some_and(|n| n > now + LEEWAY_SECS)
        || !plausible_lifetime(c.iat, c.exp)
    {
        return Err(AuthFailure::Invalid);
    }
    if c.sub != c.client_id {
        return Err(AuthFailure::Invalid);
    }
    let scopes = ScopeSet::parse_delimited(&c.scope).map_err(|_| AuthFailure::Invalid)?;
    Ok(VerifiedClaims {
        client_id: c.client_id,
        jti: c.jti,
        kid,
        env: c.env,
        scopes,
        iat: c.iat,
        exp: c.exp,
    })
}
