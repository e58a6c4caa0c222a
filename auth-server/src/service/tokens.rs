//! Issuing and checking RFC 9068 access tokens. The time is always a parameter.

use jsonwebtoken::{Header, Validation};
use shared::claims::{ACCESS_TOKEN_LIFETIME_SECS, ACCESS_TOKEN_TYP};
use shared::{AccessTokenClaims, Environment, ScopeSet};

use super::signing::{KeySet, ALGORITHM};

/// Signs a token for `client_id` at `now_secs` (Unix seconds).
pub fn issue(
    keys: &KeySet,
    issuer: &str,
    audience: &str,
    client_id: &str,
    environment: Environment,
    scopes: &ScopeSet,
    now_secs: i64,
) -> Result<(String, AccessTokenClaims), jsonwebtoken::errors::Error> {
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: client_id.to_owned(),
        client_id: client_id.to_owned(),
        aud: audience.to_owned(),
        iat: now_secs,
        exp: now_secs + ACCESS_TOKEN_LIFETIME_SECS,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        scope: scopes.to_delimited(),
        env: environment,
    };
    let mut header = Header::new(ALGORITHM);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(keys.active.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &keys.active.encoding)?;
    Ok((token, claims))
}

/// Allowed clock skew for `iat` in the future.
const LEEWAY_SECS: i64 = 60;

/// Checks signature (with a published key named by `kid`, algorithm pinned), `typ`, `iss`,
/// `aud`, `exp` and `iat` against `now_secs`. Returns the claims of a valid token, `None` for
/// anything else: callers never learn why, and neither do clients.
pub fn verify(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
    now_secs: i64,
) -> Option<AccessTokenClaims> {
    let claims = verify_ignoring_expiry(keys, token, issuer, audience)?;
    if claims.exp <= now_secs || claims.iat > now_secs + LEEWAY_SECS {
        return None;
    }
    Some(claims)
}

/// As [`verify`] but accepting expired tokens: revocation of an expired token is a no-op, and
/// must still know whose it was.
pub fn verify_ignoring_expiry(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Option<AccessTokenClaims> {
    if token.len() > 8 * 1024 {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != ALGORITHM
        || !shared::claims::is_access_token_typ(header.typ.as_deref())
        || header.jku.is_some()
        || header.x5u.is_some()
        || header.jwk.is_some()
    {
        return None;
    }
    let key = keys.decoding_key(header.kid.as_deref()?)?;
    let mut validation = Validation::new(ALGORITHM);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation)
        .ok()
        .map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::signing;

    fn keyset() -> KeySet {
        let row = signing::generate(0);
        // Build through the public path used at start-up.
        signing::tests_support::build(&[row])
    }

    #[test]
    fn issued_token_verifies_until_it_expires() {
        let keys = keyset();
        let scopes = ScopeSet::parse_delimited("cases:read").unwrap();
        let (token, claims) = issue(
            &keys,
            "http://iss",
            "aud",
            "app_1",
            Environment::Live,
            &scopes,
            1_000,
        )
        .unwrap();
        assert_eq!(claims.exp, 1_000 + 3600);
        assert_eq!(
            verify(&keys, &token, "http://iss", "aud", 1_001).unwrap(),
            claims
        );
        assert!(verify(&keys, &token, "http://iss", "aud", 1_000 + 3600).is_none());
        assert!(verify(&keys, &token, "http://other", "aud", 1_001).is_none());
        assert!(verify(&keys, &token, "http://iss", "other", 1_001).is_none());
        assert!(verify_ignoring_expiry(&keys, &token, "http://iss", "aud").is_some());
    }

    #[test]
    fn token_from_another_key_is_refused() {
        let keys = keyset();
        let other = keyset();
        let (token, _) = issue(
            &other,
            "i",
            "a",
            "app",
            Environment::Sandbox,
            &ScopeSet::new(),
            5,
        )
        .unwrap();
        assert!(verify(&keys, &token, "i", "a", 6).is_none());
    }

    #[test]
    fn header_claims_typ_at_jwt_and_kid() {
        let keys = keyset();
        let (token, _) = issue(
            &keys,
            "i",
            "a",
            "app",
            Environment::Sandbox,
            &ScopeSet::new(),
            5,
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.active.kid.as_str()));
    }
}
