//! The auth server's error enum, mapped to HTTP in one place. OAuth endpoint errors render as
//! RFC 6749 §5.2 codes; everything else uses the shared envelope.

use actix_web::http::header::{self, HeaderName};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared::db::DbError;
use shared::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RFC 6749 §5.2 `invalid_request`.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2 `invalid_client`; `basic` adds the `WWW-Authenticate: Basic` challenge.
    #[error("invalid_client")]
    InvalidClient { basic: bool },
    /// RFC 7523 §3.2: a client assertion was refused (`invalid_client`, 401).
    #[error("invalid_client: assertion refused ({})", .0.as_str())]
    InvalidAssertion(AssertionRefusal),
    /// RFC 9449 §5: the token request's DPoP proof was refused (or is missing for an
    /// application registered with `dpop_bound_access_tokens`): 400 `invalid_dpop_proof`.
    #[error("invalid_dpop_proof ({})", .0.as_str())]
    InvalidDpopProof(shared::dpop::Refusal),
    /// RFC 9449 §8: nonces are on and the proof lacks the current one: 400 `use_dpop_nonce`
    /// with the nonce in `DPoP-Nonce`.
    #[error("use_dpop_nonce")]
    UseDpopNonce(String),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 7009 §2.1: a client may only revoke its own tokens.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// Too many failed authentications for one client id.
    #[error("throttled for {retry_after}s")]
    Throttled { retry_after: u64 },
    /// The application's tier allows no more tokens right now.
    #[error("token issuance limited for {retry_after}s")]
    IssuanceLimited { retry_after: u64 },
    /// The admin API without (or with a wrong) `ADMIN_TOKEN`.
    #[error("admin unauthorized")]
    AdminUnauthorized,
    /// Too many wrong admin tokens from one source address.
    #[error("admin throttled for {retry_after}s")]
    AdminThrottled { retry_after: u64 },
    #[error("validation_failed on {field}: {message}")]
    Validation {
        field: &'static str,
        message: String,
    },
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The request lost a race with another change to the same record.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("internal: {0}")]
    Internal(String),
    /// An already-rendered envelope (edge parsing errors).
    #[error("{0}")]
    Api(ApiError),
}

/// Why a client assertion (`private_key_jwt`) was refused: a closed set, the label of
/// `caseforge_auth_auth_failures_total{reason="assertion_…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionRefusal {
    /// Not a JWT, bad base64url, too long, duplicate JSON members.
    Malformed,
    /// `alg` not ES256, EdDSA or PS256.
    Algorithm,
    /// `x5c`, `x5u`, `jku`, `jwk`, `crit`, `cty` or a `typ` other than `JWT`.
    Header,
    /// `iss`/`sub` missing or different, or not the form's `client_id`.
    Subject,
    /// No registered key verifies it (or no such `private_key_jwt` client).
    Signature,
    /// `aud` names neither the issuer nor the endpoint.
    Audience,
    /// `exp` missing or more than 60 minutes ahead.
    Expiry,
    /// `exp` has passed.
    Expired,
    /// `iat` or `nbf` in the future.
    NotYetValid,
    /// `jti` missing or malformed.
    Jti,
    /// `jti` used before.
    Replayed,
}

impl AssertionRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionRefusal::Malformed => "assertion_malformed",
            AssertionRefusal::Algorithm => "assertion_algorithm",
            AssertionRefusal::Header => "assertion_header",
            AssertionRefusal::Subject => "assertion_subject",
            AssertionRefusal::Signature => "assertion_signature",
            AssertionRefusal::Audience => "assertion_audience",
            AssertionRefusal::Expiry => "assertion_expiry",
            AssertionRefusal::Expired => "assertion_expired",
            AssertionRefusal::NotYetValid => "assertion_not_yet_valid",
            AssertionRefusal::Jti => "assertion_jti",
            AssertionRefusal::Replayed => "assertion_replayed",
        }
    }

    fn description(self) -> &'static str {
        match self {
            AssertionRefusal::Malformed => "The client assertion is not a well-formed JWT.",
            AssertionRefusal::Algorithm => "The client assertion must be signed with ES256, EdDSA or PS256.",
            AssertionRefusal::Header => "The client assertion's header has a member that is not accepted (x5c, x5u, jku, jwk, crit, cty) or a typ other than JWT.",
            AssertionRefusal::Subject => "The client assertion's iss and sub must both be the client id.",
            AssertionRefusal::Signature => "Client authentication failed.",
            AssertionRefusal::Audience => "The client assertion's aud must be the issuer identifier or this endpoint's URL.",
            AssertionRefusal::Expiry => "The client assertion needs an exp at most 60 minutes ahead.",
            AssertionRefusal::Expired => "The client assertion has expired.",
            AssertionRefusal::NotYetValid => "The client assertion's iat or nbf is in the future.",
            AssertionRefusal::Jti => "The client assertion needs a jti.",
            AssertionRefusal::Replayed => "This client assertion's jti has been used before; sign a new assertion for every request.",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Error::Validation {
            field,
            message: message.into(),
        }
    }

    fn to_api_error(&self) -> ApiError {
        match self {
            Error::InvalidRequest(d) => ApiError::bad_request("invalid_request", d.clone()),
            Error::InvalidClient { basic } => {
                let e = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client authentication failed.",
                );
                if *basic {
                    e.with_header(header::WWW_AUTHENTICATE, "Basic realm=\"caseforge\"")
                } else {
                    e
                }
            }
            Error::InvalidAssertion(reason) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                reason.description(),
            ),
            Error::UseDpopNonce(nonce) => ApiError::bad_request(
                "use_dpop_nonce",
                shared::dpop::Refusal::UseNonce.description(),
            )
            .with_header(HeaderName::from_static("dpop-nonce"), nonce.clone()),
            Error::InvalidDpopProof(reason) => {
                ApiError::bad_request("invalid_dpop_proof", reason.description())
            }
            Error::UnsupportedGrantType(g) => ApiError::bad_request(
                "unsupported_grant_type",
                format!("The grant type `{g}` is not supported; use client_credentials."),
            ),
            Error::InvalidScope(d) => ApiError::bad_request("invalid_scope", d.clone()),
            Error::UnauthorizedClient(d) => ApiError::bad_request("unauthorized_client", d.clone()),
            Error::Throttled { retry_after } => ApiError::rate_limited(
                *retry_after,
                "Too many failed authentication attempts for this client; retry later.",
            ),
            Error::IssuanceLimited { retry_after } => ApiError::rate_limited(
                *retry_after,
                "This application's tier allows no more tokens right now; reuse the token you have until it nears expiry.",
            ),
            Error::AdminThrottled { retry_after } => ApiError::rate_limited(
                *retry_after,
                "Too many failed admin authentications from this address; retry later.",
            ),
            Error::AdminUnauthorized => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The admin API needs `Authorization: Bearer <ADMIN_TOKEN>`.",
            )
            .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"caseforge-admin\""),
            Error::Validation { field, message } => ApiError::validation(field, message.clone()),
            Error::NotFound(what) => ApiError::not_found(format!("No {what} with this id exists.")),
            Error::Conflict(d) => ApiError::conflict(d.clone()),
            Error::Db(e) => {
                tracing::error!("database error: {e}");
                if e.is_unavailable() {
                    ApiError::unavailable("The database is unavailable; retry shortly.")
                } else {
                    ApiError::internal()
                }
            }
            Error::Internal(m) => {
                tracing::error!("internal error: {m}");
                ApiError::internal()
            }
            Error::Api(e) => e.clone(),
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.to_api_error().status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = self.to_api_error().error_response();
        // RFC 6749 §5.1/§5.2: token-endpoint responses must not be cached.
        resp.headers_mut().insert(
            HeaderName::from_static("pragma"),
            header::HeaderValue::from_static("no-cache"),
        );
        resp
    }
}
