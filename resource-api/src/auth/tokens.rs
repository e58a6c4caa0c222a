//! Access-token verification (RFC 9068) with a verified-token cache.
//!
//! The rule is [`shared::verify`], the same one the auth server's introspection applies: size,
//! header (`alg: EdDSA` pinned, `typ: at+jwt`, a `kid`, no `jku`/`x5u`/`jwk`), signature with
//! the Ed25519 key the JWKS publishes under that `kid` (and not taken out of service), `iss`,
//! `aud`, `sub == client_id`, a plausible lifetime, then `exp`, `nbf` and `iat` against an
//! explicit time. A token that passed is remembered by its SHA-256 until its `exp`, so repeat
//! requests skip the signature check; revocation, the signing key's publication and the
//! application's current row are checked on every request anyway (see
//! `Authenticator::verify`).

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use shared::claims::ACCESS_TOKEN_LIFETIME_SECS;
use shared::verify::{Rejection, Time};
use shared::{Environment, ScopeSet};

use super::{AuthFailure, Authenticator};

/// What the verified-token cache may hold, in bytes (its entries weighed by
/// [`entry_weight`]): about 40,000 tokens. Past it the least useful entries go (moka's TinyLFU),
/// and a token evicted this way costs one more signature check (~50 µs) when it comes back.
/// Measured: 100,000 distinct tokens kept the resource API at ~101 MB with an entry bound of
/// 100,000; this keeps it under 64 MB (docs/PERFORMANCE.md, "Memory").
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// An entry's footprint: the key, the claims and their strings, and moka's own bookkeeping
/// (~200 bytes an entry, measured as RSS per entry).
fn entry_weight(_key: &[u8; 32], claims: &Arc<VerifiedClaims>) -> u32 {
    let strings = claims.client_id.len()
        + claims.jti.len()
        + claims.kid.len()
        + claims.jkt.as_ref().map_or(0, String::len);
    (32 + std::mem::size_of::<VerifiedClaims>() + strings + 200) as u32
}

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
    /// RFC 9449 `cnf.jkt`: the token is DPoP-bound to this key.
    pub jkt: Option<String>,
}

/// Verified tokens by SHA-256, bounded in bytes (moka evicts by TinyLFU) and never kept past a
/// token lifetime.
pub struct TokenCache {
    verified: Cache<[u8; 32], Arc<VerifiedClaims>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            verified: Cache::builder()
                .max_capacity(CACHE_BYTES)
                .weigher(entry_weight)
                .time_to_live(Duration::from_secs(ACCESS_TOKEN_LIFETIME_SECS as u64))
                .build(),
        }
    }
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The claims of a valid token, from the cache when it was verified before (`digest` is the
    /// token's SHA-256, which the caller computes once: DPoP's `ath` is the same hash). A token seen
    /// for the first time is verified whatever the per-source throttle says: the check is CPU
    /// alone (the JWKS is in memory; an unknown `kid` refetches it at most once a
    /// `MIN_REFRESH`, for everyone), and a token whose signature verifies was issued by us.
    pub async fn verify(
        &self,
        authn: &Authenticator,
        token: &str,
        digest: &[u8; 32],
        now: i64,
    ) -> Result<Arc<VerifiedClaims>, AuthFailure> {
        if let Some(c) = self.verified.get(digest) {
            return if c.exp > now {
                Ok(c)
            } else {
                Err(AuthFailure::Invalid)
            };
        }
        let claims = Arc::new(verify_uncached(authn, token, now).await?);
        self.verified.insert(*digest, claims.clone());
        Ok(claims)
    }
}

async fn verify_uncached(
    authn: &Authenticator,
    token: &str,
    now: i64,
) -> Result<VerifiedClaims, AuthFailure> {
    let rejected = |r: Rejection| match r {
        Rejection::Malformed => AuthFailure::Malformed,
        _ => AuthFailure::Invalid,
    };
    let kid = shared::verify::header_kid(token).map_err(rejected)?;
    if authn.state.kid_unpublished(&kid) {
        return Err(AuthFailure::Invalid);
    }
    let key = authn.jwks.key(&kid).await.ok_or(AuthFailure::Invalid)?;
    let c = shared::verify::verify(token, &key, &authn.issuer, &authn.audience, Time::At(now))
        .map_err(rejected)?;
    let scopes = ScopeSet::parse_delimited(&c.scope).map_err(|_| AuthFailure::Invalid)?;
    Ok(VerifiedClaims {
        client_id: c.client_id,
        jti: c.jti,
        kid,
        env: c.env,
        scopes,
        iat: c.iat,
        exp: c.exp,
        jkt: c.cnf.map(|c| c.jkt),
    })
}
