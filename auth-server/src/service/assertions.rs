//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID
//! Connect Core §9) at the token, introspection and revocation endpoints, read as a checklist.
//!
//! An assertion authenticates its client when, in this order:
//! 1. it parses as [`shared::jose`] demands (size, base64url, JSON without duplicate members,
//!    `alg` ES256 / EdDSA / PS256, no `x5c`/`x5u`/`jku`/`crit`/`cty`), carries no `jwk` header
//!    (the key must be registered) and its `typ`, if any, is `JWT`;
//! 2. `iss` = `sub` = a client id (and the form's `client_id`, when sent, is the same);
//! 3. that application exists, is enabled and is registered for `private_key_jwt`;
//! 4. its signature verifies with a registered key (the one `kid` names when there are several);
//! 5. `aud` (a string or an array) names the issuer identifier or this endpoint's URL under it;
//! 6. `exp` is present, not past (with [`LEEWAY_SECS`]) and at most 60 minutes ahead (plus the
//!    leeway); `iat` and `nbf`, when present, are not in the future beyond the leeway;
//! 7. `jti` is present and seen for the first time by any replica until `exp`
//!    ([`shared::replay`]).
//!
//! Every refusal is `invalid_client` (401) with its [`AssertionRefusal`] for metrics and the
//! description; an unknown client and a wrong signature share one reason, so that nobody learns
//! which client ids exist. Nothing here logs the assertion.
//!
//! The row is read on every request (as for a secret: it is the truth about disabled, deleted
//! and re-keyed clients); what is cached is the parsed key set, by the SHA-256 of the row's
//! stored `jwks` text, so that a changed set is a different entry and never needs invalidating.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::claims::LEEWAY_SECS;
use shared::db::Db;
use shared::jose::{JoseError, Jws, PublicJwkSet};
use shared::replay::{JtiKind, ReplayGuard};

use super::applications::AuthMethod;
use crate::db::applications::ApplicationRow;
use crate::error::{AssertionRefusal, Error, Result};

/// `client_assertion_type` of RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest ahead an assertion's `exp` may be (Okta's rule; Authlib signs for 60 minutes).
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// An assertion as presented, and the path of the endpoint it was sent to. No `Debug`: the
/// assertion is a credential until its `exp`.
pub struct AssertionCredentials {
    /// The form's `client_id`, when sent.
    pub client_id: Option<String>,
    pub assertion: String,
    /// `/oauth/token`, `/oauth/introspect` or `/oauth/revoke`.
    pub endpoint: &'static str,
}

/// Checks client assertions; holds the replay guard of their `jti`s.
pub struct ClientAssertions {
    replay: ReplayGuard,
    /// Parsed registered key sets by SHA-256 of their stored text, weighed by key count.
    key_sets: moka::sync::Cache<[u8; 32], Arc<PublicJwkSet>>,
}

/// Registered keys kept parsed, at most (a set holds at most `jose::MAX_KEYS`).
const CACHED_KEYS: u64 = 20_000;

impl ClientAssertions {
    /// The replay guard (DPoP proofs at the token endpoint use it too).
    pub fn replay(&self) -> &ReplayGuard {
        &self.replay
    }
}

impl From<JoseError> for AssertionRefusal {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::Malformed | JoseError::Key(_) => AssertionRefusal::Malformed,
            JoseError::Algorithm => AssertionRefusal::Algorithm,
            JoseError::Header => AssertionRefusal::Header,
            JoseError::Signature => AssertionRefusal::Signature,
        }
    }
}

fn refuse(reason: AssertionRefusal) -> Error {
    Error::InvalidAssertion(reason)
}

impl ClientAssertions {
    pub fn new(replay: ReplayGuard) -> ClientAssertions {
        ClientAssertions {
            replay,
            key_sets: moka::sync::Cache::builder()
                .max_capacity(CACHED_KEYS)
                .weigher(|_, set: &Arc<PublicJwkSet>| set.keys().len() as u32)
                .build(),
        }
    }

    /// The key set stored as `text`, parsed once per distinct text (None when it does not
    /// parse: the row is then treated as having no usable key, as before the cache).
    fn key_set(&self, text: &str) -> Option<Arc<PublicJwkSet>> {
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(set) = self.key_sets.get(&digest) {
            return Some(set);
        }
        let set = Arc::new(PublicJwkSet::from_stored(text)?);
        self.key_sets.insert(digest, set.clone());
        Some(set)
    }

    /// Authenticates the client of `creds` at `now` (Unix seconds) for `issuer`: the checklist
    /// of the module documentation. Returns the application's row.
    pub async fn authenticate(
        &self,
        db: &Db,
        issuer: &str,
        creds: &AssertionCredentials,
        now: i64,
    ) -> Result<ApplicationRow> {
        // 1. Shape.
        let jws = Jws::parse(&creds.assertion).map_err(|e| refuse(e.into()))?;
        if jws.header().contains_key("jwk")
            || jws.typ().is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(refuse(AssertionRefusal::Header));
        }
        // 2. Who.
        let (Some(iss), Some(sub)) = (jws.claim_str("iss"), jws.claim_str("sub")) else {
            return Err(refuse(AssertionRefusal::Subject));
        };
        if iss != sub
            || creds.client_id.as_deref().is_some_and(|id| id != iss)
            || !shared::validate::plausible_client_id(iss)
        {
            return Err(refuse(AssertionRefusal::Subject));
        }
        // 3. Its application, and 4. its keys.
        let client_id = iss.to_owned();
        let row = db
            .run(move |c| ApplicationRow::find(c, &client_id))
            .await?
            .filter(|r| {
                !r.disabled
                    && r.deleted_at.is_none()
                    && r.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt.as_str()
            });
        let keys = row
            .as_ref()
            .and_then(|r| r.jwks.as_deref())
            .and_then(|text| self.key_set(text));
        let (Some(row), Some(keys)) = (row, keys) else {
            return Err(refuse(AssertionRefusal::Signature));
        };
        keys.verify(&jws).map_err(|e| refuse(e.into()))?;
        // 5. For whom.
        let endpoint_url = format!("{}{}", issuer.trim_end_matches('/'), creds.endpoint);
        let names_us = |v: &Value| v.as_str().is_some_and(|a| a == issuer || a == endpoint_url);
        let audience_ok = match jws.claims().get("aud") {
            Some(v @ Value::String(_)) => names_us(v),
            Some(Value::Array(all)) => all.iter().any(names_us),
            _ => false,
        };
        if !audience_ok {
            return Err(refuse(AssertionRefusal::Audience));
        }
        // 6. When.
        let Some(exp) = jws.claim_time("exp") else {
            return Err(refuse(AssertionRefusal::Expiry));
        };
        if exp <= now - LEEWAY_SECS {
            return Err(refuse(AssertionRefusal::Expired));
        }
        if exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
            return Err(refuse(AssertionRefusal::Expiry));
        }
        for claim in ["iat", "nbf"] {
            match jws.claims().get(claim) {
                None => {}
                Some(_) => match jws.claim_time(claim) {
                    Some(t) if t <= now + LEEWAY_SECS => {}
                    _ => return Err(refuse(AssertionRefusal::NotYetValid)),
                },
            }
        }
        // 7. Once.
        let jti = match jws.claim_str("jti") {
            Some(j) if !j.is_empty() && j.len() <= 256 => j,
            _ => return Err(refuse(AssertionRefusal::Jti)),
        };
        let first = self
            .replay
            .first_use(
                JtiKind::Assertion,
                &row.client_id,
                jti,
                exp + LEEWAY_SECS,
                now,
            )
            .await?;
        if !first {
            return Err(refuse(AssertionRefusal::Replayed));
        }
        Ok(row)
    }
}
