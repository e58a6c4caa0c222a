//! RFC 9068 JWT access-token claims.

use serde::{Deserialize, Serialize};

use crate::Environment;

/// The JOSE `typ` header of every access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Whether a JOSE `typ` value names an access token: RFC 9068 §4 requires accepting `at+jwt`
/// and `application/at+jwt` (media types compare case-insensitively) and nothing else.
pub fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

/// Every access token lives exactly this long.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;

/// A retired signing key stays published this long (a token lifetime plus a margin for clock
/// skew and caches). A key retired longer ago than this — or taken out of service with
/// `auth-server keys revoke`, which backdates its retirement — is unpublished, and verifiers
/// refuse every token it signed.
pub const RETIRED_KEY_PUBLISHED_SECS: i64 = ACCESS_TOKEN_LIFETIME_SECS + 300;

/// Clock skew tolerated between the auth server and a verifier, for `iat`/`nbf` in the future and
/// for a token's lifetime. `exp` itself gets none.
pub const LEEWAY_SECS: i64 = 30;

/// Whether `exp - iat` is a lifetime this issuer could have signed. A token claiming a longer one
/// was not minted by the token endpoint (a stolen signing key, a forged claim set), so verifiers
/// refuse it whatever its signature says.
pub fn plausible_lifetime(iat: i64, exp: i64) -> bool {
    exp > iat && exp - iat <= ACCESS_TOKEN_LIFETIME_SECS + LEEWAY_SECS
}

/// The claims of a CaseForge access token. `sub` equals `client_id` for the client-credentials
/// grant (RFC 9068 §2.2); `scope` is space-delimited; `env` is the application's environment.
/// Both services decode tokens into this one type ([`crate::verify`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// Not signed by this issuer; checked when another signer sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    pub scope: String,
    pub env: Environment,
    /// RFC 9449 §6: a DPoP-bound token names its key's RFC 7638 thumbprint (`cnf.jkt`); it is
    /// then accepted only with a proof signed by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf`, with RFC 9449's `jkt` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_accepts_both_rfc_9068_spellings_only() {
        assert!(is_access_token_typ(Some("at+jwt")));
        assert!(is_access_token_typ(Some("application/at+JWT")));
        assert!(!is_access_token_typ(Some("JWT")));
        assert!(!is_access_token_typ(None));
    }

    #[test]
    fn only_lifetimes_the_issuer_signs_are_plausible() {
        assert!(plausible_lifetime(0, ACCESS_TOKEN_LIFETIME_SECS));
        assert!(!plausible_lifetime(0, 100 * 365 * 24 * 3600));
        assert!(!plausible_lifetime(10, 10));
    }

    #[test]
    fn claims_serialise_with_the_rfc_9068_names() {
        let claims = AccessTokenClaims {
            iss: "http://127.0.0.1:8081".into(),
            sub: "app_x".into(),
            client_id: "app_x".into(),
            aud: "caseforge-api".into(),
            iat: 10,
            exp: 10 + ACCESS_TOKEN_LIFETIME_SECS,
            nbf: None,
            jti: "j".into(),
            scope: "cases:read".into(),
            env: Environment::Sandbox,
            cnf: None,
        };
        let v = serde_json::to_value(&claims).unwrap();
        for field in [
            "iss",
            "sub",
            "client_id",
            "aud",
            "iat",
            "exp",
            "jti",
            "scope",
            "env",
        ] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
        assert_eq!(v["env"], "sandbox");
        assert_eq!(v["exp"], 3610);
    }
}
