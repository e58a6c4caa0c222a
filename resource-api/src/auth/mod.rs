//! One authentication layer for every `/v2` route.
//!
//! [`authenticate`] is middleware on the whole `/v2` scope: it turns `Authorization: Bearer …`
//! or `X-API-Key` into a verified [`Principal`] (401 otherwise), applies the rate limit of the
//! principal's tier (429), stores the principal in the request, and puts the `X-RateLimit-*`
//! headers on the response. Each handler then declares the scope it needs in its signature with
//! [`Authorized<S>`], which answers 403 `insufficient_scope` when the principal lacks it.
//!
//! Invariants: every `/v2` route is behind [`authenticate`] (it wraps the whole scope in
//! `startup.rs`); only it makes a [`Principal`] (private fields) and the request's
//! [`Scoped`] environment, taken from that principal; a handler reaches the principal only
//! through [`Authorized<S>`] and the database only through [`EnvDb`], so it can neither skip
//! its scope check nor choose another environment.

pub mod jwks;
pub use shared::ratelimit;
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
use self::ratelimit::{Decision, Limiter};
use self::state::{CredentialState, KeyRecord, Lookup, LookupError};
use self::tokens::TokenCache;
use crate::db::{EnvDb, Scoped};
use shared::throttle::FailureThrottle;

/// What kind of credential a request was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    Application,
    ApiKey,
}

/// A verified caller. Only [`authenticate`] makes one (its fields are private), so a handler
/// holding a principal holds a verified one.
#[derive(Debug, Clone)]
pub struct Principal {
    principal_type: PrincipalType,
    /// The `client_id` of an application, or the id of an API key. Recorded as the actor.
    id: String,
    environment: Environment,
    scopes: ScopeSet,
    tier: Tier,
    /// The key's record, for API keys (`/v2/api_keys/validate`).
    api_key: Option<Arc<KeyRecord>>,
}

impl Principal {
    pub fn principal_type(&self) -> PrincipalType {
        self.principal_type
    }

    /// The `client_id` of an application, or the id of an API key. Recorded as the actor.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn environment(&self) -> Environment {
        self.environment
    }

    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The key's record, for API keys (`/v2/api_keys/validate`).
    pub fn api_key(&self) -> Option<&KeyRecord> {
        self.api_key.as_deref()
    }

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
    pub limiter: Arc<Limiter>,
    pub db: Db,
    /// `API_PUBLIC_URL` without a trailing `/`: the `htu` of DPoP proofs is checked against it
    /// (the URL clients address), never against the request's `Host`.
    pub public_url: String,
    /// DPoP proof `jti`s, once across replicas.
    pub replay: shared::replay::ReplayGuard,
    /// DPoP server nonces, when `DPOP_NONCE_KEY` is set.
    pub nonces: Option<shared::dpop::Nonces>,
    pub metrics: web::Data<shared::metrics::Metrics>,
    /// Failed authentications per client address (`shared::client_addr`). Past the burst, a
    /// source is held to API keys memory can answer: junk cannot cost unbounded database
    /// lookups. Tokens are still checked (CPU only), and one whose signature verifies is served.
    pub failures_by_source: FailureThrottle,
}

/// Failed `/v2` authentications tolerated per source address in a burst, and how often one
/// comes back (10 a second sustained).
pub const SOURCE_FAILURE_BURST: u32 = 60;
pub const SOURCE_FAILURE_REFILL: std::time::Duration = std::time::Duration::from_millis(100);

impl Authenticator {
    /// A new per-source failure throttle with the limits above.
    pub fn source_throttle() -> FailureThrottle {
        FailureThrottle::new(SOURCE_FAILURE_BURST, SOURCE_FAILURE_REFILL, 100_000)
    }
}

/// Why a credential was refused. The variants never carry the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    /// Two credentials that differ, or a credential header sent twice.
    Ambiguous,
    Invalid,
    Unavailable,
    /// The source address sent too many bad credentials, and this API key is not known in
    /// memory.
    Throttled,
    /// A DPoP-bound token without its proof, or with a proof that fails RFC 9449 §4.3.
    Dpop(shared::dpop::Refusal),
    /// A DPoP-bound token presented as `Bearer` (RFC 9449 §7.2), or an unbound token as `DPoP`.
    WrongScheme,
}

/// RFC 9449 §7.1: the `DPoP` challenge, with the accepted algorithms.
fn dpop_challenge(error: &str, description: &str) -> String {
    format!(
        "DPoP algs=\"{}\", error=\"{error}\", error_description=\"{description}\"",
        shared::dpop::ALGS
    )
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
            AuthFailure::Ambiguous => "ambiguous",
            AuthFailure::Invalid => "invalid",
            AuthFailure::Unavailable => "unavailable",
            AuthFailure::Throttled => "throttled",
            AuthFailure::Dpop(r) => r.as_str(),
            AuthFailure::WrongScheme => "dpop_scheme",
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
            AuthFailure::Ambiguous => ApiError::bad_request(
                "invalid_request",
                "Send one credential, once: `Authorization` or `X-API-Key` (both only when they carry the same key), each header at most once.",
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
            AuthFailure::Throttled => ApiError::rate_limited(
                1,
                "Too many failed authentications from this address; retry later.",
            ),
            AuthFailure::Dpop(shared::dpop::Refusal::UseNonce) => {
                let d = shared::dpop::Refusal::UseNonce.description();
                ApiError::new(StatusCode::UNAUTHORIZED, "use_dpop_nonce", d)
                    .with_header(header::WWW_AUTHENTICATE, dpop_challenge("use_dpop_nonce", d))
            }
            AuthFailure::Dpop(r) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_dpop_proof",
                r.description(),
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                dpop_challenge("invalid_dpop_proof", r.description()),
            ),
            AuthFailure::WrongScheme => {
                let d = "A DPoP-bound token is accepted only as `Authorization: DPoP <token>` with a `DPoP` proof; a Bearer token only as `Bearer`.";
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
                    .with_header(header::WWW_AUTHENTICATE, dpop_challenge("invalid_token", d))
            }
        }
    }
}

enum Credential {
    /// A JWT, and whether it came as `DPoP` (else `Bearer`).
    Jwt(String, bool),
    Key(String),
}

/// What a DPoP-bound token is checked against: the request's method, its URL under
/// `API_PUBLIC_URL`, and its `DPoP` header(s).
struct DpopRequest {
    htm: String,
    path: String,
    proof: Result<Option<String>, AuthFailure>,
}

impl DpopRequest {
    fn of(req: &ServiceRequest) -> DpopRequest {
        DpopRequest {
            htm: req.method().as_str().to_owned(),
            path: req.path().to_owned(),
            proof: match single_header(req, "dpop") {
                Ok(p) => Ok(p.map(str::to_owned)),
                Err(AuthFailure::Ambiguous) => {
                    Err(AuthFailure::Dpop(shared::dpop::Refusal::Multiple))
                }
                Err(_) => Err(AuthFailure::Dpop(shared::dpop::Refusal::Malformed)),
            },
        }
    }
}

/// The one value of a header that may appear at most once.
fn single_header(
    req: &ServiceRequest,
    name: impl header::AsHeaderName,
) -> Result<Option<&str>, AuthFailure> {
    let mut values = req.headers().get_all(name);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthFailure::Ambiguous);
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| AuthFailure::Malformed)
}

fn extract(req: &ServiceRequest) -> Result<Credential, AuthFailure> {
    let auth = single_header(req, header::AUTHORIZATION)?;
    let key = single_header(req, "x-api-key")?;
    let mut dpop = false;
    let bearer = match auth {
        None => None,
        Some(v) => {
            let (scheme, token) = v.split_once(' ').ok_or(AuthFailure::Malformed)?;
            if scheme.eq_ignore_ascii_case("dpop") && key.is_none() {
                dpop = true;
            } else if !scheme.eq_ignore_ascii_case("bearer") {
                // Another scheme beside an API key is two different credentials.
                return Err(if key.is_some() {
                    AuthFailure::Ambiguous
                } else {
                    AuthFailure::Malformed
                });
            }
            Some(token.trim())
        }
    };
    let token = match (bearer, key) {
        (Some(b), Some(k)) if b == k => k,
        (Some(_), Some(_)) => return Err(AuthFailure::Ambiguous),
        (None, Some(k)) => return Ok(Credential::Key(k.to_owned())),
        (Some(b), None) => b,
        (None, None) => return Err(AuthFailure::Missing),
    };
    if token.is_empty() || token.len() > 8 * 1024 {
        return Err(AuthFailure::Malformed);
    }
    Ok(if ApiKey::looks_like_api_key(token) {
        // An API key is never DPoP-bound.
        if dpop {
            return Err(AuthFailure::WrongScheme);
        }
        Credential::Key(token.to_owned())
    } else {
        Credential::Jwt(token.to_owned(), dpop)
    })
}

fn lookup_error(e: LookupError) -> AuthFailure {
    match e {
        LookupError::Db(_) => AuthFailure::Unavailable,
        LookupError::NotInMemory => AuthFailure::Throttled,
    }
}

impl Authenticator {
    /// RFC 9449 §7.1 for a verified token: a bound token (`cnf.jkt`) only as `DPoP` with a
    /// proof of this request (method, URL under `API_PUBLIC_URL`, `ath` of the token, a fresh
    /// `iat`) signed by the bound key, whose `jti` no replica has seen; an unbound token only
    /// as `Bearer`. Checked on every request: the verified-token cache never skips it.
    async fn check_binding(
        &self,
        token_sha256: &[u8; 32],
        as_dpop: bool,
        jkt: Option<&str>,
        request: &DpopRequest,
        now: i64,
    ) -> Result<(), AuthFailure> {
        use shared::dpop::Refusal;
        let jkt = match (jkt, as_dpop) {
            (None, false) => return Ok(()),
            (Some(_), false) | (None, true) => return Err(AuthFailure::WrongScheme),
            (Some(jkt), true) => jkt,
        };
        let proof = request
            .proof
            .clone()?
            .ok_or(AuthFailure::Dpop(Refusal::Missing))?;
        let htu = format!("{}{}", self.public_url, request.path);
        let proof = shared::dpop::check(
            &proof,
            &request.htm,
            &htu,
            Some(token_sha256),
            self.nonces.as_ref(),
            now,
        )
        .map_err(AuthFailure::Dpop)?;
        if !shared::secret::ct_eq(proof.jkt.as_bytes(), jkt.as_bytes()) {
            return Err(AuthFailure::Dpop(Refusal::KeyMismatch));
        }
        let first = self
            .replay
            .first_use(
                shared::replay::JtiKind::DpopProof,
                &proof.jkt,
                &proof.jti,
                proof.replay_until,
                now,
            )
            .await
            .map_err(|_| AuthFailure::Unavailable)?;
        if !first {
            return Err(AuthFailure::Dpop(Refusal::Replayed));
        }
        Ok(())
    }

    async fn verify(
        &self,
        credential: Credential,
        request: &DpopRequest,
        now_us: i64,
        lookup: Lookup,
    ) -> Result<Principal, AuthFailure> {
        match credential {
            Credential::Key(raw) => {
                // The checksum rejects typos and junk without touching the database.
                let key = ApiKey::parse(&raw).map_err(|_| AuthFailure::Malformed)?;
                let record = self
                    .state
                    .key(&self.db, key.digest().as_str(), now_us, lookup)
                    .await
                    .map_err(lookup_error)?
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
            Credential::Jwt(token, as_dpop) => {
                // The per-source throttle does not apply to tokens: a signature check costs no
                // database lookup, and a token whose signature verifies is never refused for
                // its source (behind a shared address, other clients' junk must not lock out
                // real tokens).
                // One SHA-256 of the token: the verified-token cache's key and DPoP's `ath`.
                let digest: [u8; 32] = {
                    use sha2::Digest;
                    sha2::Sha256::digest(token.as_bytes()).into()
                };
                let claims = self
                    .tokens
                    .verify(self, &token, &digest, now_us / 1_000_000)
                    .await?;
                // Checked on every request, cached or not: a revoked token, a signing key taken
                // out of service, and the application's current row.
                if self.state.is_revoked(&claims.jti) || self.state.kid_unpublished(&claims.kid) {
                    return Err(AuthFailure::Invalid);
                }
                self.check_binding(
                    &digest,
                    as_dpop,
                    claims.jkt.as_deref(),
                    request,
                    now_us / 1_000_000,
                )
                .await?;
                // Its application may be read from the database: only a token we signed gets
                // here, so these lookups are bounded by real tokens, not by junk.
                let app = self
                    .state
                    .app(&self.db, &claims.client_id, Lookup::MayQuery)
                    .await
                    .map_err(lookup_error)?
                    .ok_or(AuthFailure::Invalid)?;
                // The token is believed only as far as its application allows today: the same
                // environment, not issued before "revoke all tokens", and no scope the
                // application no longer has. A token signed with a stolen key for a sandbox
                // application cannot claim `live` or extra scopes.
                if !app.active
                    || app.environment != Some(claims.env)
                    || app
                        .tokens_not_before
                        .is_some_and(|t| claims.iat.saturating_mul(1_000_000) < t)
                {
                    return Err(AuthFailure::Invalid);
                }
                Ok(Principal {
                    principal_type: PrincipalType::Application,
                    id: claims.client_id.clone(),
                    environment: claims.env,
                    scopes: claims.scopes.intersection(&app.scopes),
                    tier: app.tier,
                    api_key: None,
                })
            }
        }
    }
}

/// The rate-limit headers of a decision (`shared::ratelimit::Decision::headers`).
fn rate_headers(d: &Decision) -> impl Iterator<Item = (HeaderName, String)> {
    d.headers()
        .into_iter()
        .map(|(name, value)| (HeaderName::from_static(name), value))
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
    let now_us = shared::time::now_micros();
    let now = Instant::now();
    let source = shared::client_addr::client_ip(req.request()).to_string();
    let lookup = if authn.failures_by_source.throttled(&source, now).is_some() {
        Lookup::MemoryOnly
    } else {
        Lookup::MayQuery
    };
    let dpop = DpopRequest::of(&req);
    let principal = match extract(&req) {
        Ok(c) => authn.verify(c, &dpop, now_us, lookup).await,
        Err(f) => Err(f),
    };
    let principal = match principal {
        Ok(p) => p,
        Err(f) => {
            authn.metrics.auth_failure(f.reason());
            let mut err = f.to_api_error();
            // RFC 9449 §9: the nonce to use rides on the refusal that asks for it.
            if let (AuthFailure::Dpop(shared::dpop::Refusal::UseNonce), Some(n)) =
                (f, authn.nonces.as_ref())
            {
                err = err.with_header(
                    HeaderName::from_static("dpop-nonce"),
                    n.current(now_us / 1_000_000),
                );
            }
            if !matches!(f, AuthFailure::Unavailable) {
                // Past the burst, unauthenticated traffic from this source is answered 429.
                if let Err(wait) = authn.failures_by_source.take(&source, now).await {
                    err = ApiError::rate_limited(
                        wait,
                        "Too many failed authentications from this address; retry later.",
                    );
                }
            }
            return Ok(req.error_response(err).map_into_right_body());
        }
    };
    let decision = match principal.tier.limits() {
        Some(limits) => Some(
            authn
                .limiter
                .check(&principal.rate_key(), limits, Instant::now())
                .await,
        ),
        None => None,
    };
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
    // The environment goes in beside the principal: `EnvDb` reads it whatever the order of a
    // handler's extractors (`Authorized` takes the principal out).
    req.extensions_mut()
        .insert(Scoped::bound_to(principal.environment));
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
        WebhooksRead => Some(Scope::WebhooksRead),
        WebhooksWrite => Some(Scope::WebhooksWrite),
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

/// The environment-bound repository of the request's principal. Fails like a missing
/// credential outside the `/v2` authentication middleware, which is the only place the
/// environment is set.
impl FromRequest for EnvDb {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let scoped = req.extensions().get::<Scoped>().copied();
        let authn = req.app_data::<web::Data<Authenticator>>();
        ready(match (scoped, authn) {
            (Some(scoped), Some(authn)) => Ok(EnvDb::new(authn.db.clone(), scoped)),
            _ => Err(AuthFailure::Missing.to_api_error()),
        })
    }
}
