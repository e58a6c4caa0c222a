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

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AsyncHttpClient, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};

use crate::trace::{outbound_traceparent, TRACEPARENT};
use crate::Secret;

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
    token: Secret,
    expires_at: SystemTime,
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
}

impl TokenSource {
    pub fn new(
        token_url: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        scopes: &[&str],
    ) -> Result<Self, TokenError> {
        let client = BasicClient::new(ClientId::new(client_id.into()))
            .set_client_secret(ClientSecret::new(client_secret.into()))
            .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|_| TokenError::Config)?);
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
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A token with more than [`REFRESH_BEFORE_EXPIRY`] left, fetching one when needed.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        // Holding the lock across the fetch is what makes concurrent callers share it.
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some(c) = current.as_ref() {
            if c.expires_at > now + REFRESH_BEFORE_EXPIRY {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.fetch(now).await?;
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token, e.g. after the API answered 401 to it.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch(&self, now: SystemTime) -> Result<Cached, TokenError> {
        let grant = self.fetch_grant().await?;
        let lifetime = grant.expires_in.unwrap_or(Duration::from_secs(3600));
        Ok(Cached {
            token: grant.access_token,
            expires_at: now + lifetime,
        })
    }

    /// Fetches a new token now, bypassing (and not filling) the cache.
    pub async fn fetch_grant(&self) -> Result<Grant, TokenError> {
        let mut request = self.client.exchange_client_credentials();
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let response = request
            .request_async(&|mut request: oauth2::HttpRequest| {
                if let Ok(v) = oauth2::http::HeaderValue::from_str(&outbound_traceparent()) {
                    request.headers_mut().insert(TRACEPARENT, v);
                }
                self.http.call(request)
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

    /// Sends the request `build` makes, with `Authorization: Bearer <token>`.
    pub async fn send<F>(&self, build: F) -> Result<reqwest::Response, TokenError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let token = self.tokens.token().await?;
        let resp = build(&self.http)
            .bearer_auth(token.expose())
            .header(TRACEPARENT, outbound_traceparent())
            .send()
            .await
            .map_err(|e| TokenError::Network(crate::outbound::error_chain(&e)))?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        self.tokens.invalidate().await;
        let token = self.tokens.token().await?;
        build(&self.http)
            .bearer_auth(token.expose())
            .header(TRACEPARENT, outbound_traceparent())
            .send()
            .await
            .map_err(|e| TokenError::Network(crate::outbound::error_chain(&e)))
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
