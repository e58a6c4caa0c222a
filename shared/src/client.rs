//! A token source for backend services (feature `client`), built on the `oauth2` crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shared::client::TokenError> {
//! use shared::client::{AuthorizedClient, TokenSource};
//! let tokens = TokenSource::new("http://127.0.0.1:8081/oauth/token", "app_…", "cfsec_…", &["cases:read"])?;
//! let api = AuthorizedClient::new(tokens)?;
//! let resp = api.send(|http| http.get("http://127.0.0.1:8080/v2/cases")).await?;
//! # let _ = resp; Ok(()) }
//! ```
//!
//! The first call fetches a token; later calls reuse it until it is within
//! [`REFRESH_BEFORE_EXPIRY`] of expiring, then one caller fetches a new one while the others
//! wait for that same fetch (no thundering herd). The clock is a parameter so tests can move
//! time without sleeping. Errors are typed and never contain the client secret.
//!
//! Without a shared secret (contract §7): [`TokenSource::with_private_key`] authenticates with
//! RFC 7523 client assertions signed by the application's private key (PEM or JWK, see
//! [`PrivateKey`]), and [`TokenSource::with_dpop`] makes a fresh P-256 key for this source and
//! sends an RFC 9449 proof with every token request, so the tokens are DPoP-bound;
//! [`AuthorizedClient`] then sends `Authorization: DPoP` with a new proof per request, and
//! [`TokenSource::authorization`] gives the same two headers to callers with their own client.
//! A `use_dpop_nonce` refusal is retried once with the server's `DPoP-Nonce`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use shared::client::{AuthorizedClient, PrivateKey, TokenSource};
//! let key = PrivateKey::parse(&std::fs::read_to_string("client-key.pem")?)?.with_kid("k1");
//! let tokens = TokenSource::with_private_key("http://127.0.0.1:8081/oauth/token", "app_…", key, &["cases:read"])?
//!     .with_dpop();
//! let api = AuthorizedClient::new(tokens)?;
//! let resp = api.send(|http| http.get("http://127.0.0.1:8080/v2/cases")).await?;
//! # let _ = resp; Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AsyncHttpClient, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};

use crate::client_keys::CLIENT_ASSERTION_TYPE;
pub use crate::client_keys::{DpopKey, KeyError, PrivateKey};
use crate::trace::{outbound_traceparent, TRACEPARENT};
use crate::Secret;

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: &str = "dpop";
/// The `DPoP-Nonce` answer header (RFC 9449 §8).
pub const DPOP_NONCE: &str = "dpop-nonce";

/// A token is replaced when it has less than this left.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Why a token could not be had. No variant carries the client secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The authorization server refused the client's credentials (unknown client, wrong or
    /// rotated secret, disabled or deleted application). Retrying will not help.
    #[error("invalid client: the authorization server refused the client credentials")]
    InvalidClient,
    /// Another OAuth error, e.g. `invalid_scope` or `rate_limited`.
    #[error("token request refused: {error}: {description}")]
    Rejected { error: String, description: String },
    /// The authorization server could not be reached.
    #[error("network error reaching the authorization server: {0}")]
    Network(String),
    /// The authorization server answered something that is not a token response.
    #[error("the authorization server failed: {0}")]
    Server(String),
    /// The token URL is not a URL.
    #[error("invalid token endpoint URL")]
    Config,
}

/// Where the time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct Cached {
    access: Access,
    expires_at: SystemTime,
}

/// A token and how to present it.
#[derive(Debug, Clone)]
pub struct Access {
    pub token: Secret,
    /// `token_type: DPoP`: present as `Authorization: DPoP` with a proof of each request.
    pub dpop_bound: bool,
}

/// One token response as the authorization server sent it (RFC 6749 §5.1), for callers that
/// show it, such as the `auth-server token` command. Its `Debug` redacts the token.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    /// The granted scopes, when the server listed them.
    pub scope: Option<String>,
}

/// Fetches, caches and refreshes an access token for one application.
pub struct TokenSource {
    client: Client,
    http: reqwest::Client,
    scopes: Vec<String>,
    clock: Arc<dyn Clock>,
    current: tokio::sync::Mutex<Option<Cached>>,
    client_id: String,
    /// `private_key_jwt`: the key that signs each request's assertion, and its `aud`.
    assertion: Option<(PrivateKey, String)>,
    dpop: Option<DpopKey>,
}

impl TokenSource {
    pub fn new(
        token_url: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        scopes: &[&str],
    ) -> Result<Self, TokenError> {
        let client_id = client_id.into();
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(client_secret.into()))
            .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|_| TokenError::Config)?);
        Self::build(client, client_id, None, scopes)
    }

    /// `private_key_jwt` (RFC 7523 §2.2): no secret; each token request carries a new client
    /// assertion signed by `key` (`iss` = `sub` = `client_id`, `aud` = `token_url` — contract §7
    /// takes the endpoint's URL or the issuer, see [`TokenSource::with_assertion_audience`] —
    /// 5 minutes, a new `jti`).
    pub fn with_private_key(
        token_url: &str,
        client_id: impl Into<String>,
        key: PrivateKey,
        scopes: &[&str],
    ) -> Result<Self, TokenError> {
        let client_id = client_id.into();
        // No secret: the crate sends `client_id` in the form, which the server accepts beside an
        // assertion naming the same client.
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|_| TokenError::Config)?);
        Self::build(client, client_id, Some((key, token_url.to_owned())), scopes)
    }

    /// The assertions' `aud`: the issuer identifier instead of the token endpoint's URL.
    pub fn with_assertion_audience(mut self, audience: impl Into<String>) -> Self {
        if let Some((_, aud)) = self.assertion.as_mut() {
            *aud = audience.into();
        }
        self
    }

    /// DPoP (RFC 9449): a fresh P-256 key for this source (in memory only), a proof on every
    /// token request; the tokens are then bound to it (`cnf.jkt`).
    pub fn with_dpop(mut self) -> Self {
        self.dpop = Some(DpopKey::generate());
        self
    }

    /// The DPoP key, when [`TokenSource::with_dpop`] made one.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.dpop.as_ref()
    }

    fn build(
        client: Client,
        client_id: String,
        assertion: Option<(PrivateKey, String)>,
        scopes: &[&str],
    ) -> Result<Self, TokenError> {
        // rustls with the system roots or `SSL_CERT_FILE`; never follows redirects (RFC 6749 §10).
        let http = crate::outbound::builder(Duration::from_secs(10))
            .build()
            .map_err(|e| TokenError::Network(e.to_string()))?;
        Ok(TokenSource {
            client,
            http,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            clock: Arc::new(SystemClock),
            current: tokio::sync::Mutex::new(None),
            client_id,
            assertion,
            dpop: None,
        })
    }

    fn unix_now(&self) -> i64 {
        self.clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }

    /// A DPoP proof of `method` `url` by this source's key (with `ath` of `access_token`), or
    /// `None` without [`TokenSource::with_dpop`]. For a caller with its own HTTP client; see
    /// [`TokenSource::authorization`].
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Option<String> {
        self.dpop
            .as_ref()
            .map(|k| k.proof(method, url, access_token, self.unix_now()))
    }

    /// The headers of a request `method` `url`: `Authorization` (`Bearer` or `DPoP`) and, for
    /// a DPoP-bound token, a new `DPoP` proof of this very request.
    pub async fn authorization(
        &self,
        method: &str,
        url: &str,
    ) -> Result<Vec<(&'static str, String)>, TokenError> {
        let access = self.access().await?;
        Ok(self.headers_for(&access, method, url))
    }

    fn headers_for(&self, access: &Access, method: &str, url: &str) -> Vec<(&'static str, String)> {
        let token = access.token.expose();
        let proof = access
            .dpop_bound
            .then(|| self.dpop_proof(method, url, Some(token)))
            .flatten();
        match proof {
            Some(proof) => vec![("authorization", format!("DPoP {token}")), (DPOP, proof)],
            None => vec![("authorization", format!("Bearer {token}"))],
        }
    }

    /// Notes the `DPoP-Nonce` a server answered `url` with, for the next proof to it (RFC 9449
    /// §8, §9). True when one was noted.
    fn note_nonce(&self, url: &str, headers: &reqwest::header::HeaderMap) -> bool {
        match (
            self.dpop.as_ref(),
            headers.get(DPOP_NONCE).and_then(|v| v.to_str().ok()),
        ) {
            (Some(key), Some(nonce)) => {
                key.note_nonce(url, nonce);
                true
            }
            _ => false,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A token with more than [`REFRESH_BEFORE_EXPIRY`] left, fetching one when needed.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        Ok(self.access().await?.token)
    }

    /// As [`TokenSource::token`], with whether it is DPoP-bound.
    pub async fn access(&self) -> Result<Access, TokenError> {
        // Holding the lock across the fetch is what makes concurrent callers share it.
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some(c) = current.as_ref() {
            if c.expires_at > now + REFRESH_BEFORE_EXPIRY {
                return Ok(c.access.clone());
            }
        }
        let fresh = self.fetch(now).await?;
        let access = fresh.access.clone();
        *current = Some(fresh);
        Ok(access)
    }

    /// Forgets the cached token, e.g. after the API answered 401 to it.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch(&self, now: SystemTime) -> Result<Cached, TokenError> {
        let grant = self.fetch_grant().await?;
        let lifetime = grant.expires_in.unwrap_or(Duration::from_secs(3600));
        Ok(Cached {
            access: Access {
                dpop_bound: grant.token_type == "DPoP",
                token: grant.access_token,
            },
            expires_at: now + lifetime,
        })
    }

    /// Fetches a new token now, bypassing (and not filling) the cache. With DPoP, a
    /// `use_dpop_nonce` refusal is retried once with the nonce the server gave.
    pub async fn fetch_grant(&self) -> Result<Grant, TokenError> {
        match self.fetch_grant_once().await {
            Err(TokenError::Rejected { error, .. })
                if error == "use_dpop_nonce" && self.dpop.is_some() =>
            {
                self.fetch_grant_once().await
            }
            other => other,
        }
    }

    async fn fetch_grant_once(&self) -> Result<Grant, TokenError> {
        let mut request = self.client.exchange_client_credentials();
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        // A new assertion (and below, a new proof) for every request: the server accepts each
        // `jti` once.
        let assertion = self
            .assertion
            .as_ref()
            .map(|(key, aud)| key.client_assertion(&self.client_id, aud, self.unix_now()));
        if let Some(assertion) = assertion.as_deref() {
            request = request
                .add_extra_param("client_assertion_type", CLIENT_ASSERTION_TYPE)
                .add_extra_param("client_assertion", assertion);
        }
        let response = request
            .request_async(&|mut request: oauth2::HttpRequest| {
                if let Ok(v) = oauth2::http::HeaderValue::from_str(&outbound_traceparent()) {
                    request.headers_mut().insert(TRACEPARENT, v);
                }
                let url = request.uri().to_string();
                if let Some(proof) = self.dpop_proof(request.method().as_str(), &url, None) {
                    if let Ok(v) = oauth2::http::HeaderValue::from_str(&proof) {
                        request.headers_mut().insert(DPOP, v);
                    }
                }
                let sent = self.http.call(request);
                async move {
                    let response = sent.await?;
                    let _ = self.note_nonce(&url, response.headers());
                    Ok::<_, oauth2::HttpClientError<reqwest::Error>>(response)
                }
            })
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => match r.error() {
                    BasicErrorResponseType::InvalidClient => TokenError::InvalidClient,
                    other => TokenError::Rejected {
                        error: other.to_string(),
                        description: r.error_description().cloned().unwrap_or_default(),
                    },
                },
                RequestTokenError::Request(e) => {
                    TokenError::Network(crate::outbound::error_chain(&e))
                }
                RequestTokenError::Parse(_, body) => {
                    TokenError::Server(format!("unparsable response ({} bytes)", body.len()))
                }
                RequestTokenError::Other(m) => TokenError::Server(m),
            })?;
        Ok(Grant {
            access_token: Secret::new(response.access_token().secret().clone()),
            // The crate lower-cases the type; RFC 6750 spells it `Bearer`.
            token_type: match response.token_type() {
                BasicTokenType::Bearer => "Bearer".to_owned(),
                // RFC 9449 §5 spells it `DPoP`.
                BasicTokenType::Extension(t) if t.eq_ignore_ascii_case("dpop") => "DPoP".to_owned(),
                other => other.as_ref().to_owned(),
            },
            expires_in: response.expires_in(),
            scope: response.scopes().map(|scopes| {
                scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        })
    }
}

/// An HTTP client that attaches the token and, on a 401, fetches a new token and retries the
/// request once.
pub struct AuthorizedClient {
    http: reqwest::Client,
    tokens: Arc<TokenSource>,
}

impl AuthorizedClient {
    /// With an HTTP client from [`crate::outbound::builder`] (30 s per request).
    pub fn new(tokens: TokenSource) -> Result<Self, TokenError> {
        let http = crate::outbound::builder(Duration::from_secs(30))
            .build()
            .map_err(|e| TokenError::Network(e.to_string()))?;
        Ok(Self::with_http(tokens, http))
    }

    pub fn with_http(tokens: TokenSource, http: reqwest::Client) -> Self {
        AuthorizedClient {
            http,
            tokens: Arc::new(tokens),
        }
    }

    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    /// Sends the request `build` makes, with `Authorization: Bearer <token>` (or, for a
    /// DPoP-bound token, `Authorization: DPoP <token>` and a new proof of this request). A 401
    /// asking for a DPoP nonce is retried once with it; another 401 once with a new token.
    pub async fn send<F>(&self, build: F) -> Result<reqwest::Response, TokenError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let access = self.tokens.access().await?;
        let (mut resp, nonce_noted) = self.attempt(&build, &access).await?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        // A DPoP-bound token refused with `use_dpop_nonce` and a nonce (noted by `attempt`):
        // once more with a proof carrying it.
        let asks_for_nonce = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("use_dpop_nonce"));
        if access.dpop_bound && nonce_noted && asks_for_nonce {
            resp = self.attempt(&build, &access).await?.0;
            if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
        }
        self.tokens.invalidate().await;
        let access = self.tokens.access().await?;
        Ok(self.attempt(&build, &access).await?.0)
    }

    /// Sends the request once; with whether the answer carried a `DPoP-Nonce` now noted.
    async fn attempt<F>(
        &self,
        build: &F,
        access: &Access,
    ) -> Result<(reqwest::Response, bool), TokenError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let network = |e: reqwest::Error| TokenError::Network(crate::outbound::error_chain(&e));
        let mut request = build(&self.http)
            .header(TRACEPARENT, outbound_traceparent())
            .build()
            .map_err(network)?;
        let (method, url) = (request.method().to_string(), request.url().to_string());
        for (name, value) in self.tokens.headers_for(access, &method, &url) {
            let mut value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| TokenError::Server("a token that is not a header value".to_owned()))?;
            // Kept out of reqwest's and hyper's debug output.
            value.set_sensitive(true);
            request.headers_mut().insert(name, value);
        }
        let resp = self.http.execute(request).await.map_err(network)?;
        let noted = self.tokens.note_nonce(&url, resp.headers());
        Ok((resp, noted))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

    use super::*;
    use crate::trace::TraceContext;

    #[actix_web::test]
    async fn token_requests_send_a_traceparent_continuing_the_current_trace() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let record = seen.clone();
        let server = HttpServer::new(move || {
            let record = record.clone();
            App::new().route(
                "/oauth/token",
                web::post().to(move |req: HttpRequest| {
                    let header = req
                        .headers()
                        .get(TRACEPARENT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    record.lock().unwrap().push(header);
                    async {
                        HttpResponse::Ok().json(serde_json::json!({
                            "access_token": "t0k3n", "token_type": "Bearer", "expires_in": 3600
                        }))
                    }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}/oauth/token", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);

        let tokens = TokenSource::new(&url, "app_x", "cfsec_x", &["cases:read"]).unwrap();
        let request =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            request.scope(tokens.token()).await.unwrap().expose(),
            "t0k3n"
        );
        handle.stop(true).await;

        let seen = seen.lock().unwrap().clone();
        let sent = TraceContext::parse(&seen[0]).expect("a valid traceparent");
        assert_eq!(sent.trace_id(), request.trace_id());
        assert_ne!(sent.span_id(), request.span_id(), "a fresh span id");
    }
}
