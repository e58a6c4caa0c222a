//! One authentication layer for every `/v2` route.
//!
//! [`authenticate`] is middleware on the whole `/v2` scope: it turns `Authorization: Bearer …`
//! or `X-API-Key` into a verified [`Principal`] (401 otherwise), applies the rate limit of the
//! principal's tier (429), stores the principal in the request, and puts the `X-RateLimit-*`
//! headers on the response. Each handler then declares the scope it needs in its signature with
//! [`Authorized<S>`], which answers 403 `insufficient_scope` when the principal lacks it.

pub mod jwks;
pub mod ratelimit;
pub mod state;
pub mod tokens;

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use shared::db::Db;
use shared::{ApiError, ApiKey, Environment, Scope, ScopeSet, Tier};

use self::jwks::JwksCache;
use self::ratelimit::{Decision, RateLimiter};
use self::state::{CredentialState, KeyRecord};
use self::tokens::TokenCache;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    Application,
    ApiKey,
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub principal_type: PrincipalType,
    /// The `client_id` of an application, or the id of an API key. Recorded as the actor.
    pub id: String,
    pub environment: Environment,
    pub scopes: ScopeSet,
    pub tier: Tier,
    /// The key's record, for API keys (`/v2/api_keys/validate`).
    pub api_key: Option<Arc<KeyRecord>>,
}

impl Principal {
    /// The credential, unique across both kinds: `app:<client_id>` or `key:<api key id>`.
    /// Rate limits and idempotency keys are per credential.
    pub fn credential_id(&self) -> String {
        match self.principal_type {
            PrincipalType::Application => format!("app:{}", self.id),
            PrincipalType::ApiKey => format!("key:{}", self.id),
        }
    }

    fn rate_key(&self) -> String {
        self.credential_id()
    }
}

/// Everything needed to verify credentials. One per process, shared by all workers.
pub struct Authenticator {
    pub issuer: String,
    pub audience: String,
    pub jwks: JwksCache,
    pub state: CredentialState,
    pub tokens: TokenCache,
    pub limiter: Arc<dyn RateLimiter>,
    pub db: Db,
    pub metrics: web::Data<shared::metrics::Metrics>,
}

/// Why a credential was refused. The variants never carry the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    BothMethods,
    Invalid,
    Unavailable,
}

fn challenge(error: Option<&str>, extra: &str) -> String {
    match error {
        None => "Bearer realm=\"caseforge\"".to_owned(),
        Some(e) => format!("Bearer realm=\"caseforge\", error=\"{e}\"{extra}"),
    }
}

impl AuthFailure {
    /// The `reason` label of the authentication-failure metric.
    fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::BothMethods => "both_methods",
            AuthFailure::Invalid => "invalid",
            AuthFailure::Unavailable => "unavailable",
        }
    }

    fn to_api_error(self) -> ApiError {
        match self {
            AuthFailure::Missing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "This endpoint needs `Authorization: Bearer <token or API key>` or `X-API-Key`.",
            )
            .with_header(header::WWW_AUTHENTICATE, challenge(None, "")),
            AuthFailure::BothMethods => ApiError::bad_request(
                "invalid_request",
                "Send one credential: either `Authorization` or `X-API-Key`, not both.",
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                challenge(Some("invalid_request"), ""),
            ),
            AuthFailure::Malformed | AuthFailure::Invalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The credential is malformed, expired, revoked or not issued for this API.",
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                challenge(Some("invalid_token"), ""),
            ),
            AuthFailure::Unavailable => {
                ApiError::unavailable("Credentials cannot be verified right now; retry shortly.")
            }
        }
    }
}

enum Credential {
    Jwt(String),
    Key(String),
}

fn extract(req: &ServiceRequest) -> Result<Credential, AuthFailure> {
    let auth = req.headers().get(header::AUTHORIZATION);
    let key = req.headers().get("x-api-key");
    if auth.is_some() && key.is_some() {
        return Err(AuthFailure::BothMethods);
    }
    if let Some(v) = key {
        let v = v.to_str().map_err(|_| AuthFailure::Malformed)?.trim();
        return Ok(Credential::Key(v.to_owned()));
    }
    let v = auth
        .ok_or(AuthFailure::Missing)?
        .to_str()
        .map_err(|_| AuthFailure::Malformed)?;
    let (scheme, token) = v.split_once(' ').ok_or(AuthFailure::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::Malformed);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 8 * 1024 {
        return Err(AuthFailure::Malformed);
    }
    Ok(if ApiKey::looks_like_api_key(token) {
        Credential::Key(token.to_owned())
    } else {
        Credential::Jwt(token.to_owned())
    })
}

impl Authenticator {
    async fn verify(&self, credential: Credential, now_us: i64) -> Result<Principal, AuthFailure> {
        match credential {
            Credential::Key(raw) => {
                // The checksum rejects typos and junk without touching the database.
                let key = ApiKey::parse(&raw).map_err(|_| AuthFailure::Malformed)?;
                let record = self
                    .state
                    .key(&self.db, &key.digest(), now_us)
                    .await
                    .map_err(|_| AuthFailure::Unavailable)?
                    .ok_or(AuthFailure::Invalid)?;
                if !record.usable(now_us) || record.environment != key.environment() {
                    return Err(AuthFailure::Invalid);
                }
                record.record_use(now_us);
                Ok(Principal {
                    principal_type: PrincipalType::ApiKey,
                    id: record.id.clone(),
                    environment: record.environment,
                    scopes: record.scopes.clone(),
                    tier: record.tier,
                    api_key: Some(record),
                })
            }
            Credential::Jwt(token) => {
                let claims = self.tokens.verify(self, &token, now_us / 1_000_000).await?;
                if self.state.is_revoked(&claims.jti) {
                    return Err(AuthFailure::Invalid);
                }
                let app = self
                    .state
                    .app(&self.db, &claims.client_id)
                    .await
                    .map_err(|_| AuthFailure::Unavailable)?
                    .ok_or(AuthFailure::Invalid)?;
                if !app.active {
                    return Err(AuthFailure::Invalid);
                }
                Ok(Principal {
                    principal_type: PrincipalType::Application,
                    id: claims.client_id.clone(),
                    environment: claims.env,
                    scopes: claims.scopes.clone(),
                    tier: app.tier,
                    api_key: None,
                })
            }
        }
    }
}

fn rate_headers(d: &Decision) -> [(HeaderName, String); 3] {
    [
        (
            HeaderName::from_static("x-ratelimit-limit"),
            d.limit.to_string(),
        ),
        (
            HeaderName::from_static("x-ratelimit-remaining"),
            d.remaining.to_string(),
        ),
        (
            HeaderName::from_static("x-ratelimit-reset"),
            d.reset_secs.to_string(),
        ),
    ]
}

/// The `/v2` authentication and rate-limit middleware.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(authn) = req.app_data::<web::Data<Authenticator>>().cloned() else {
        return Ok(req
            .error_response(ApiError::internal())
            .map_into_right_body());
    };
    let now_us = shared::time::to_micros(chrono::Utc::now());
    let principal = match extract(&req) {
        Ok(c) => authn.verify(c, now_us).await,
        Err(f) => Err(f),
    };
    let principal = match principal {
        Ok(p) => p,
        Err(f) => {
            authn.metrics.auth_failure(f.reason());
            return Ok(req.error_response(f.to_api_error()).map_into_right_body());
        }
    };
    let decision = principal.tier.limits().map(|limits| {
        authn
            .limiter
            .check(&principal.rate_key(), limits, Instant::now())
    });
    if let Some(d) = decision.filter(|d| !d.allowed) {
        let mut err = ApiError::rate_limited(
            d.retry_after.unwrap_or(1),
            "Rate limit exceeded for this credential's tier.",
        );
        for (name, value) in rate_headers(&d) {
            err = err.with_header(name, value);
        }
        return Ok(req.error_response(err).map_into_right_body());
    }
    req.extensions_mut().insert(principal);
    let mut res = next.call(req).await?;
    if let Some(d) = decision {
        for (name, value) in rate_headers(&d) {
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, v);
            }
        }
    }
    Ok(res.map_into_left_body())
}

/// A scope a handler requires, as a type, so that it is declared in the handler's signature.
pub trait Requirement {
    const SCOPE: Option<Scope>;
}

macro_rules! scope_markers {
    ($($name:ident => $scope:expr),+ $(,)?) => {
        $(
            #[doc = concat!("Requires `", stringify!($name), "`.")]
            pub struct $name;
            impl Requirement for $name {
                const SCOPE: Option<Scope> = $scope;
            }
        )+
    };
}

/// Marker types for [`Authorized`].
pub mod need {
    use super::{Requirement, Scope};
    scope_markers! {
        CasesRead => Some(Scope::CasesRead),
        CasesWrite => Some(Scope::CasesWrite),
        SarRead => Some(Scope::SarRead),
        SarWrite => Some(Scope::SarWrite),
        WatchlistRead => Some(Scope::WatchlistRead),
        WatchlistWrite => Some(Scope::WatchlistWrite),
        SubjectsRead => Some(Scope::SubjectsRead),
        SubjectsWrite => Some(Scope::SubjectsWrite),
        TransactionsRead => Some(Scope::TransactionsRead),
        AlertsRead => Some(Scope::AlertsRead),
        AnyCredential => None,
    }
}

/// The verified principal, holding the scope `S` requires.
pub struct Authorized<S: Requirement> {
    pub principal: Principal,
    _scope: PhantomData<S>,
}

impl<S: Requirement> std::ops::Deref for Authorized<S> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

fn insufficient(scope: Scope) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        format!("This operation requires the {scope} scope."),
    )
    .with_details(serde_json::json!({ "required_scope": scope.as_str() }))
    .with_header(
        header::WWW_AUTHENTICATE,
        challenge(Some("insufficient_scope"), &format!(", scope=\"{scope}\"")),
    )
}

impl<S: Requirement> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Moved, not cloned: one handler has one `Authorized`, and nothing reads it later.
        let principal = req.extensions_mut().remove::<Principal>();
        ready(match principal {
            None => Err(AuthFailure::Missing.to_api_error()),
            Some(p) => match S::SCOPE {
                Some(scope) if !p.scopes.contains(scope) => Err(insufficient(scope)),
                _ => Ok(Authorized {
                    principal: p,
                    _scope: PhantomData,
                }),
            },
        })
    }
}
