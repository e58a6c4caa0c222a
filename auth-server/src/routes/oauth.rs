//! `POST /oauth/token` (RFC 6749 §4.4), `POST /oauth/introspect` (RFC 7662) and
//! `POST /oauth/revoke` (RFC 7009).
//!
//! These handlers only parse (the form, refusing repeated parameters; the client's credentials
//! from HTTP Basic or the body, never both; the requested scope) and render (status, `no-store`
//! headers, the RFC 6749 §5.2 error bodies via [`Error`]). Every rule of the grants is in
//! [`crate::service::grants`]; no handler here touches the database.

use std::collections::HashMap;
use std::time::Instant;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use shared::{ScopeSet, Secret};
use utoipa::ToSchema;

use super::AppState;
use crate::error::{Error, Result};
use crate::service::assertions::{AssertionCredentials, ASSERTION_TYPE};
use crate::service::client_auth::{ClientCredentials, Credentials};
use crate::service::grants::{Grants, Introspection};
use crate::service::now_micros;
use shared::metrics::Metrics;

/// RFC 6749 §5.1 success response. No `Debug`: it holds a bearer token.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

/// The form fields of `POST /oauth/token` (documentation only; the body is parsed by hand so
/// that repeated parameters can be refused).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    grant_type: String,
    /// Space-delimited scopes; omitted means every scope registered for the application.
    scope: Option<String>,
    /// With `client_secret_post`; beside HTTP Basic it may repeat the Basic user (a different
    /// value is `invalid_request`).
    client_id: Option<String>,
    /// With `client_secret_post` only.
    client_secret: Option<String>,
    /// `private_key_jwt` (RFC 7523 §2.2): `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: Option<String>,
    /// `private_key_jwt`: a JWT signed with a registered key (ES256, EdDSA or PS256); `iss` =
    /// `sub` = client id, `aud` = the issuer or this endpoint's URL, `exp` at most 60 minutes
    /// ahead, a single-use `jti`.
    client_assertion: Option<String>,
}

/// The form fields of `POST /oauth/introspect` (RFC 7662 §2.1) and `POST /oauth/revoke`
/// (RFC 7009 §2.1) (documentation only, parsed by hand like the token request's).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenHintRequest {
    /// The access token.
    token: String,
    /// `access_token` (the only kind this server issues); optional.
    token_type_hint: Option<String>,
    /// With `client_secret_post`; beside HTTP Basic it may repeat the Basic user.
    client_id: Option<String>,
    /// With `client_secret_post` only.
    client_secret: Option<String>,
    /// `private_key_jwt` (RFC 7523 §2.2): `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: Option<String>,
    /// `private_key_jwt`: a JWT signed with a registered key; `aud` the issuer or this endpoint's URL.
    client_assertion: Option<String>,
}

/// The RFC 7800 confirmation of a DPoP-bound token (RFC 9449 §6.1).
#[derive(Serialize, ToSchema)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the proof key, base64url.
    pub jkt: String,
}

/// RFC 7662 §2.2: `{"active": false}`, or the token's claims with `active: true` (`scope` cut
/// to the application's current scopes). A member is absent, never `null`, when inactive.
#[derive(Serialize, ToSchema)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `Bearer`, or `DPoP` for a token bound to a key (RFC 9449 §6.2).
    #[schema(value_type = Option<String>, pattern = "^(Bearer|DPoP)$", nullable = false)]
    pub token_type: Option<&'static str>,
    /// Space-delimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub iss: Option<String>,
    /// Seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub iat: Option<i64>,
    /// Seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub env: Option<shared::Environment>,
    /// A DPoP-bound token's key thumbprint (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cnf: Option<Confirmation>,
}

/// Parses an `application/x-www-form-urlencoded` body. A repeated parameter is
/// `invalid_request` (RFC 6749 §3.2); an empty value counts as absent (§3.1).
fn parse_form(req: &HttpRequest, body: &Bytes) -> Result<HashMap<String, String>> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(Error::InvalidRequest(
            "The request body must be application/x-www-form-urlencoded.".into(),
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Error::InvalidRequest("The form body could not be parsed.".into()))?;
    let mut form = HashMap::new();
    for (k, v) in pairs {
        if form.contains_key(&k) {
            return Err(Error::InvalidRequest(format!(
                "The parameter `{}` is repeated.",
                k.chars().take(40).collect::<String>()
            )));
        }
        form.insert(k, v);
    }
    form.retain(|_, v| !v.is_empty());
    Ok(form)
}

/// The one `DPoP` header of a request, if any (two are `invalid_dpop_proof`).
fn dpop_header(req: &HttpRequest) -> Result<Option<&str>> {
    let mut values = req.headers().get_all("dpop");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::InvalidDpopProof(shared::dpop::Refusal::Multiple));
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| Error::InvalidDpopProof(shared::dpop::Refusal::Malformed))
}

/// Decodes one half of a Basic credential: RFC 6749 §2.3.1 form-url-encodes id and secret
/// before base64.
fn form_decode(s: &str) -> Option<String> {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Finds the client's credentials: a `private_key_jwt` assertion (RFC 7523 §2.2: both
/// `client_assertion_type` and `client_assertion`, alone — beside HTTP Basic or a
/// `client_secret` it is `invalid_request`), or else a secret ([`client_credentials`]).
fn credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
    endpoint: &'static str,
) -> Result<Credentials> {
    let assertion_type = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    if assertion_type.is_none() && assertion.is_none() {
        return client_credentials(req, form).map(Credentials::Secret);
    }
    if req.headers().contains_key(header::AUTHORIZATION) || form.contains_key("client_secret") {
        return Err(Error::InvalidRequest(
            "Use one client authentication method: a client assertion, HTTP Basic or client_secret, not several.".into(),
        ));
    }
    match (assertion_type.map(String::as_str), assertion) {
        (Some(ASSERTION_TYPE), Some(assertion)) => {
            Ok(Credentials::Assertion(AssertionCredentials {
                client_id: form.get("client_id").cloned(),
                assertion: assertion.clone(),
                endpoint,
            }))
        }
        (Some(ASSERTION_TYPE), None) => Err(Error::InvalidRequest(
            "The parameter `client_assertion` is missing.".into(),
        )),
        (None, _) => Err(Error::InvalidRequest(
            "The parameter `client_assertion_type` is missing.".into(),
        )),
        (Some(_), _) => Err(Error::InvalidRequest(format!(
            "client_assertion_type must be {ASSERTION_TYPE}."
        ))),
    }
}

/// Finds the client's credentials: HTTP Basic or `client_id`+`client_secret` in the body,
/// never both (a body `client_id` equal to the Basic user is not a second method).
fn client_credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<ClientCredentials> {
    match req.headers().get(header::AUTHORIZATION) {
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| Error::InvalidClient { basic: true })?;
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(Error::InvalidClient { basic: true });
            }
            // A secret in the body beside Basic is a second authentication method (RFC 6749
            // §2.3.1: "MUST NOT use more than one"). A `client_id` alone only identifies the
            // client (§3.2.1 lets a client send it; Swagger UI and requests-oauthlib do): equal to
            // the Basic user it is accepted, different it is a contradiction — `invalid_request`
            // (§5.2: "includes multiple credentials … or is otherwise malformed").
            if form.contains_key("client_secret") {
                return Err(Error::InvalidRequest(
                    "Use one client authentication method: HTTP Basic or client_id/client_secret in the body, not both.".into(),
                ));
            }
            let decoded = STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(Error::InvalidClient { basic: true })?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or(Error::InvalidClient { basic: true })?;
            let client_id = form_decode(id).ok_or(Error::InvalidClient { basic: true })?;
            if form
                .get("client_id")
                .is_some_and(|body_id| *body_id != client_id)
            {
                return Err(Error::InvalidRequest(
                    "The `client_id` in the body is not the HTTP Basic user: send one client identity.".into(),
                ));
            }
            Ok(ClientCredentials {
                client_id,
                secret: Secret::new(
                    form_decode(secret).ok_or(Error::InvalidClient { basic: true })?,
                ),
                basic: true,
            })
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(ClientCredentials {
                client_id: id.clone(),
                secret: Secret::new(secret.clone()),
                basic: false,
            }),
            (Some(_), None) => Err(Error::InvalidRequest(
                "The parameter `client_secret` is missing.".into(),
            )),
            (None, Some(_)) => Err(Error::InvalidRequest(
                "The parameter `client_id` is missing.".into(),
            )),
            (None, None) => Err(Error::InvalidClient { basic: false }),
        },
    }
}

impl AppState {
    /// The grants service over this state, for the request `req`.
    fn grants(&self, req: &HttpRequest) -> Grants<'_> {
        Grants {
            db: &self.db,
            clients: &self.clients,
            assertions: &self.assertions,
            keys: &self.keys,
            issuance: &self.issuance,
            issuer: &self.config.issuer,
            audience: &self.config.audience,
            last_tokens: &self.last_tokens,
            audit_key: &self.audit_key,
            source: Some(shared::client_addr::client_ip(req).to_string()),
        }
    }
}

fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// Client-credentials grant.
#[utoipa::path(post, path = "/oauth/token", operation_id = "oauth_token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "A signed access token", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type, invalid_scope, or invalid_dpop_proof (RFC 9449 §5: a `DPoP` proof header that fails its checks, or none from an application registered with `dpop_bound_access_tokens`). With a valid proof the answer is `token_type: DPoP` and the token carries `cnf.jkt`.", body = shared::ErrorBody),
        (status = 429, description = "Too many failed authentications for this client (a correct secret is still accepted), or the application's tier allows no more tokens right now; `Retry-After` says when", body = shared::ErrorBody)))]
pub async fn token(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse> {
    let result = issue_token(&state, &req, &body).await;
    match &result {
        Ok(_) => metrics.tokens_issued.inc(),
        Err(Error::InvalidClient { .. }) => metrics.auth_failure("invalid_client"),
        Err(Error::InvalidAssertion(reason)) => metrics.auth_failure(reason.as_str()),
        Err(Error::InvalidDpopProof(reason)) => metrics.auth_failure(reason.as_str()),
        Err(Error::UseDpopNonce(_)) => {
            metrics.auth_failure(shared::dpop::Refusal::UseNonce.as_str())
        }
        Err(Error::Throttled { .. }) => metrics.auth_failure("throttled"),
        Err(_) => {}
    }
    result
}

async fn issue_token(state: &AppState, req: &HttpRequest, body: &Bytes) -> Result<HttpResponse> {
    let form = parse_form(req, body)?;
    match form.get("grant_type").map(String::as_str) {
        None => {
            return Err(Error::InvalidRequest(
                "The parameter `grant_type` is missing.".into(),
            ))
        }
        Some("client_credentials") => {}
        Some(other) => {
            return Err(Error::UnsupportedGrantType(
                other.chars().take(40).collect(),
            ));
        }
    }
    let requested = match form.get("scope") {
        None => None,
        Some(s) if s.trim().is_empty() => {
            return Err(Error::InvalidScope(
                "The requested scope is empty; omit `scope` to get every registered scope.".into(),
            ))
        }
        Some(s) => {
            Some(ScopeSet::parse_delimited(s).map_err(|e| {
                Error::InvalidScope(format!("The requested scope is invalid: {e}."))
            })?)
        }
    };

    let creds = credentials(req, &form, "/oauth/token")?;
    let now_us = now_micros();
    // RFC 9449 §4.3, but for the jti's single use (the grant takes it once the client is
    // authenticated): htu is the token endpoint under the issuer, as clients address it.
    let now_secs = now_us.div_euclid(1_000_000);
    let nonces = state.nonces.as_ref();
    let proof = match dpop_header(req)? {
        None => None,
        Some(p) => Some(
            shared::dpop::check(
                p,
                "POST",
                &format!("{}/oauth/token", state.config.issuer.trim_end_matches('/')),
                None,
                nonces,
                now_secs,
            )
            .map_err(|r| match (r, nonces) {
                (shared::dpop::Refusal::UseNonce, Some(n)) => {
                    Error::UseDpopNonce(n.current(now_secs))
                }
                _ => Error::InvalidDpopProof(r),
            })?,
        ),
    };
    let issued = state
        .grants(req)
        .client_credentials(creds, requested, proof, now_us, Instant::now())
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(TokenResponse {
        access_token: issued.access_token,
        token_type: if issued.jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        },
        expires_in: issued.expires_in,
        scope: issued.scope.to_delimited(),
    }))
}

/// Token introspection for resource servers and clients.
#[utoipa::path(post, path = "/oauth/introspect", operation_id = "oauth_introspect", tag = "oauth",
    request_body(content = TokenHintRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_secret_basic" = [])),
    responses(
        (status = 200, description = "RFC 7662 answer: `{\"active\": false}` or the token's claims, with `scope` cut to the application's current scopes. A client sees only its own tokens unless its application has `introspection: true`.", body = IntrospectionResponse),
        (status = 400, description = "invalid_request", body = shared::ErrorBody)))]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse> {
    let form = parse_form(&req, &body)?;
    let token = form
        .get("token")
        .cloned()
        .ok_or_else(|| Error::InvalidRequest("The parameter `token` is missing.".into()))?;
    let creds = credentials(&req, &form, "/oauth/introspect")?;
    let answer = state
        .grants(&req)
        .introspect(creds, &token, now_micros(), Instant::now())
        .await?;
    let Introspection::Active { claims, scope } = answer else {
        return Ok(no_store(HttpResponse::Ok()).json(IntrospectionResponse {
            active: false,
            token_type: None,
            scope: None,
            client_id: None,
            sub: None,
            aud: None,
            iss: None,
            iat: None,
            exp: None,
            jti: None,
            env: None,
            cnf: None,
        }));
    };
    Ok(no_store(HttpResponse::Ok()).json(IntrospectionResponse {
        active: true,
        token_type: Some(if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }),
        scope: Some(scope.to_delimited()),
        // RFC 9449 §6.2: the binding is reported as the token carries it.
        cnf: claims.cnf.as_ref().map(|cnf| Confirmation {
            jkt: cnf.jkt.clone(),
        }),
        client_id: Some(claims.client_id),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        iss: Some(claims.iss),
        iat: Some(claims.iat),
        exp: Some(claims.exp),
        jti: Some(claims.jti),
        env: Some(claims.env),
    }))
}

/// Token revocation. A client may revoke only its own tokens; an invalid or unknown token is
/// answered 200 as RFC 7009 §2.2 requires.
#[utoipa::path(post, path = "/oauth/revoke", operation_id = "oauth_revoke", tag = "oauth",
    request_body(content = TokenHintRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_secret_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (RFC 7009 §2.2); no body."),
        (status = 400, description = "invalid_request, or unauthorized_client for another client's token", body = shared::ErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse> {
    let form = parse_form(&req, &body)?;
    let token = form
        .get("token")
        .cloned()
        .ok_or_else(|| Error::InvalidRequest("The parameter `token` is missing.".into()))?;
    let creds = credentials(&req, &form, "/oauth/revoke")?;
    // Revoked, expired or not a token: RFC 7009 §2.2 answers 200 alike.
    state
        .grants(&req)
        .revoke(creds, &token, now_micros(), Instant::now())
        .await?;
    Ok(no_store(HttpResponse::Ok()).finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn repeated_parameters_are_invalid_request() {
        let req = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .to_http_request();
        let err = parse_form(&req, &Bytes::from_static(b"grant_type=a&grant_type=b")).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(m) if m.contains("grant_type")));
        let ok = parse_form(
            &req,
            &Bytes::from_static(b"grant_type=client_credentials&scope="),
        )
        .unwrap();
        assert!(!ok.contains_key("scope"));
    }

    #[test]
    fn wrong_content_type_is_invalid_request() {
        let req = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_request();
        assert!(matches!(
            parse_form(&req, &Bytes::from_static(b"{}")),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let raw = STANDARD.encode("app%3Ax:s+e%2Bcret");
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("Basic {raw}")))
            .to_http_request();
        let creds = client_credentials(&req, &HashMap::new()).unwrap();
        assert_eq!(creds.client_id, "app:x");
        assert_eq!(creds.secret.expose(), "s e+cret");
        assert!(creds.basic);
    }

    #[test]
    fn basic_and_body_together_is_invalid_request() {
        let raw = STANDARD.encode("a:b");
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("Basic {raw}")))
            .to_http_request();
        let form = HashMap::from([("client_secret".to_string(), "b".to_string())]);
        assert!(matches!(
            client_credentials(&req, &form),
            Err(Error::InvalidRequest(_))
        ));
        // A secret in the body is a second method even with the same client_id.
        let form = HashMap::from([
            ("client_id".to_string(), "a".to_string()),
            ("client_secret".to_string(), "b".to_string()),
        ]);
        assert!(matches!(
            client_credentials(&req, &form),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn basic_with_the_same_client_id_in_the_body_is_one_method() {
        let raw = STANDARD.encode("app%3Ax:secret");
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("Basic {raw}")))
            .to_http_request();
        let same = HashMap::from([("client_id".to_string(), "app:x".to_string())]);
        let creds = client_credentials(&req, &same).unwrap();
        assert_eq!(creds.client_id, "app:x");
        assert!(creds.basic);
        let other = HashMap::from([("client_id".to_string(), "app_other".to_string())]);
        assert!(matches!(
            client_credentials(&req, &other),
            Err(Error::InvalidRequest(m)) if m.contains("client_id")
        ));
    }
}
