//! Issuing and checking RFC 9068 access tokens. The time is always a parameter. Checking is
//! the one rule in [`shared::verify`], with this server's own keys.

use jsonwebtoken::Header;
use shared::claims::{ACCESS_TOKEN_LIFETIME_SECS, ACCESS_TOKEN_TYP};
use shared::verify::Time;
use shared::{AccessTokenClaims, Environment, ScopeSet};

use super::signing::{KeySet, ALGORITHM};

/// Whom a token is for: the client, its environment, the granted scopes, and the thumbprint of
/// the DPoP key it is bound to (RFC 9449 `cnf.jkt`), if any.
#[derive(Debug, Clone, Copy)]
pub struct TokenFor<'a> {
    pub client_id: &'a str,
    pub environment: Environment,
    pub scopes: &'a ScopeSet,
    pub jkt: Option<&'a str>,
}

/// Signs a token for `to` at `now_secs` (Unix seconds).
pub fn issue(
    keys: &KeySet,
    issuer: &str,
    audience: &str,
    to: TokenFor<'_>,
    now_secs: i64,
) -> Result<(String, AccessTokenClaims), jsonwebtoken::errors::Error> {
    let TokenFor {
        client_id,
        environment,
        scopes,
        jkt,
    } = to;
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: client_id.to_owned(),
        client_id: client_id.to_owned(),
        aud: audience.to_owned(),
        iat: now_secs,
        exp: now_secs + ACCESS_TOKEN_LIFETIME_SECS,
        nbf: None,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        scope: scopes.to_delimited(),
        env: environment,
        cnf: jkt.map(|j| shared::claims::Confirmation { jkt: j.to_owned() }),
    };
    let mut header = Header::new(ALGORITHM);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(keys.active.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &keys.active.encoding)?;
    Ok((token, claims))
}

use crate::db::applications::ApplicationRow;

/// The `iat` of a token issued at `now_us` (Unix microseconds) for an application whose tokens
/// issued before `tokens_not_before` are refused. Tokens carry whole seconds, so a token issued
/// in the same second as a "revoke all tokens" would look older than it is: its `iat` is moved
/// up to the next whole second, which verifiers accept as clock skew.
pub fn issued_at(now_us: i64, tokens_not_before: Option<i64>) -> i64 {
    let now = now_us.div_euclid(1_000_000);
    match tokens_not_before {
        Some(t) => now.max((t + 999_999).div_euclid(1_000_000)),
        None => now,
    }
}

/// What a verified token still grants against its application's current row: nothing when its
/// `env` is not the application's, when it was issued before the application's
/// `tokens_not_before`, or when its lifetime is longer than this issuer signs; otherwise the
/// intersection of its scopes with the application's current scopes.
pub fn effective_scopes(claims: &AccessTokenClaims, app: &ApplicationRow) -> Option<ScopeSet> {
    if app.environment != claims.env.as_str()
        || !shared::claims::plausible_lifetime(claims.iat, claims.exp)
        || app
            .tokens_not_before
            .is_some_and(|t| claims.iat.saturating_mul(1_000_000) < t)
    {
        return None;
    }
    let token = ScopeSet::parse_delimited(&claims.scope).ok()?;
    let current = ScopeSet::parse_delimited(&app.scopes).ok()?;
    Some(token.intersection(&current))
}

/// Checks a token with [`shared::verify`] against `now_secs`, with the published key its `kid`
/// names. Returns the claims of a valid token, `None` for anything else: callers never learn
/// why, and neither do clients.
pub fn verify(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
    now_secs: i64,
) -> Option<AccessTokenClaims> {
    check(keys, token, issuer, audience, Time::At(now_secs))
}

/// As [`verify`] but without the time checks: revocation of an expired token is a no-op, and
/// must still know whose it was.
pub fn verify_ignoring_expiry(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Option<AccessTokenClaims> {
    check(keys, token, issuer, audience, Time::Ignored)
}

fn check(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
    time: Time,
) -> Option<AccessTokenClaims> {
    let kid = shared::verify::header_kid(token).ok()?;
    let key = keys.decoding_key(&kid)?;
    shared::verify::verify(token, key, issuer, audience, time).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::signing;

    fn keyset() -> KeySet {
        signing::tests_support::build()
    }

    #[test]
    fn issued_token_verifies_until_it_expires() {
        let keys = keyset();
        let scopes = ScopeSet::parse_delimited("cases:read").unwrap();
        let (token, claims) = issue(
            &keys,
            "http://iss",
            "aud",
            TokenFor {
                client_id: "app_1",
                environment: Environment::Live,
                scopes: &scopes,
                jkt: None,
            },
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
    fn tokens_issued_after_revoke_all_are_not_older_than_it() {
        // Revoked at 100.4 s: a token issued at 100.7 s gets iat 101, one at 100.2 s (before)
        // keeps iat 100 and is refused by `iat * 1e6 < tokens_not_before`.
        assert_eq!(issued_at(100_700_000, Some(100_400_000)), 101);
        assert_eq!(issued_at(100_200_000, None), 100);
        assert_eq!(issued_at(200_000_000, Some(100_400_000)), 200);
    }

    fn app_row(scopes: &str, environment: &str, tokens_not_before: Option<i64>) -> ApplicationRow {
        ApplicationRow {
            client_id: "app_1".into(),
            name: "n".into(),
            description: String::new(),
            scopes: scopes.into(),
            environment: environment.into(),
            tier: "standard".into(),
            secret_hash: String::new(),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            disabled: false,
            deleted_at: None,
            created_at: 0,
            updated_at: 0,
            tokens_not_before,
            previous_secret_until_used: false,
            introspection: false,
            owner_id: None,
            last_token_at: None,
            disabled_by_admin: false,
            token_endpoint_auth_method: "client_secret_basic".into(),
            jwks: None,
            dpop_bound_access_tokens: false,
        }
    }

    #[test]
    fn a_token_grants_only_what_its_application_still_allows() {
        let keys = keyset();
        let scopes = ScopeSet::parse_delimited("cases:read cases:write").unwrap();
        let (_, claims) = issue(
            &keys,
            "i",
            "a",
            TokenFor {
                client_id: "app_1",
                environment: Environment::Sandbox,
                scopes: &scopes,
                jkt: None,
            },
            100,
        )
        .unwrap();
        let granted =
            |row: &ApplicationRow| effective_scopes(&claims, row).map(|s| s.to_delimited());
        assert_eq!(
            granted(&app_row("cases:read cases:write", "sandbox", None)).as_deref(),
            Some("cases:read cases:write")
        );
        // A scope removed since issuance is gone.
        assert_eq!(
            granted(&app_row("cases:read", "sandbox", None)).as_deref(),
            Some("cases:read")
        );
        // Another environment, or issued before "revoke all tokens": nothing.
        assert_eq!(granted(&app_row("cases:read", "live", None)), None);
        assert_eq!(
            granted(&app_row("cases:read", "sandbox", Some(100_000_001))),
            None
        );
        assert!(granted(&app_row("cases:read", "sandbox", Some(100_000_000))).is_some());
        // A lifetime this issuer never signs: nothing.
        let mut forged = claims.clone();
        forged.exp = forged.iat + 100 * 365 * 24 * 3600;
        assert_eq!(
            effective_scopes(&forged, &app_row("cases:read", "sandbox", None)),
            None
        );
    }

    #[test]
    fn token_from_another_key_is_refused() {
        let keys = keyset();
        let other = keyset();
        let (token, _) = issue(
            &other,
            "i",
            "a",
            TokenFor {
                client_id: "app",
                environment: Environment::Sandbox,
                scopes: &ScopeSet::new(),
                jkt: None,
            },
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
            TokenFor {
                client_id: "app",
                environment: Environment::Sandbox,
                scopes: &ScopeSet::new(),
                jkt: None,
            },
            5,
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.active.kid.as_str()));
    }
}
