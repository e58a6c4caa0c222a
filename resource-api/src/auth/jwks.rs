//! The authorization server's public keys, cached.
//!
//! Where the JWKS is: `JWKS_URL` when set; otherwise the `jwks_uri` of the issuer's RFC 8414
//! metadata (`AUTH_ISSUER/.well-known/oauth-authorization-server`), whose `issuer` must equal
//! `AUTH_ISSUER` exactly (RFC 8414 §3.3). Discovery is retried with every fetch until it works,
//! then its answer is kept for the life of the process.
//!
//! Fetched at start and every few minutes. A token naming an unknown `kid` triggers a refresh,
//! but at most once per [`MIN_REFRESH`], so junk `kid`s cannot make us hammer the auth server.
//! When the auth server is down, the keys already cached keep working. Only Ed25519 keys are
//! kept ([`shared::verify::is_ed25519_jwk`]): an RSA, EC or symmetric (`oct`) key, or an
//! Ed25519 key labelled with another `alg`, is ignored whatever the JWKS says. Every fetch goes through
//! [`shared::outbound::builder`]: rustls, the system roots or `SSL_CERT_FILE`, no redirects.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;
use shared::trace::{outbound_traceparent, TRACEPARENT};

/// Unknown-`kid` refreshes happen at most this often.
pub const MIN_REFRESH: Duration = Duration::from_secs(10);

/// Why the keys could not be fetched. Every message names the URL it is about.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot build the HTTPS client: {0}")]
    Client(reqwest::Error),
    /// No answer (connection, TLS, timeout): the whole error chain.
    #[error("{url}: {chain}")]
    Unreachable { url: String, chain: String },
    #[error("{url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{url}: not authorization-server metadata: {source}")]
    NotMetadata { url: String, source: reqwest::Error },
    /// RFC 8414 §3.3: metadata naming another issuer is not used.
    #[error("{url} names issuer `{named}`, not AUTH_ISSUER `{expected}`")]
    WrongIssuer {
        url: String,
        named: String,
        expected: String,
    },
    #[error("{url}: {source}")]
    BadJwksUri { url: String, source: JwksUriError },
    #[error("{url}: not a JWK set: {source}")]
    NotJwkSet { url: String, source: reqwest::Error },
    #[error("{url} holds no usable keys")]
    NoUsableKeys { url: String },
}

/// Why a discovered `jwks_uri` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksUriError {
    #[error("jwks_uri `{0}` is not an http(s) URL")]
    NotHttp(String),
    #[error("jwks_uri `{0}` is plain HTTP while the issuer is HTTPS")]
    Downgrade(String),
}

impl JwksError {
    fn unreachable(url: &str, e: &reqwest::Error) -> JwksError {
        JwksError::Unreachable {
            url: url.to_owned(),
            chain: shared::outbound::error_chain(e),
        }
    }
}

/// A published Ed25519 key; it verifies `EdDSA` only ([`shared::verify::ALGORITHM`]).
pub type VerificationKey = Arc<DecodingKey>;

pub struct JwksCache {
    issuer: String,
    /// `JWKS_URL`, or the discovered `jwks_uri` once discovery has worked.
    url: RwLock<Option<String>>,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, VerificationKey>>,
    /// Serialises fetches and remembers when the last one started.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    /// Keys of `issuer`, fetched from `jwks_url`, or from the `jwks_uri` its metadata names.
    pub fn new(issuer: &str, jwks_url: Option<&str>) -> Result<Self, JwksError> {
        let http = shared::outbound::builder(Duration::from_secs(3))
            .build()
            .map_err(JwksError::Client)?;
        Ok(JwksCache {
            issuer: issuer.to_owned(),
            url: RwLock::new(jwks_url.map(str::to_owned)),
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
        })
    }

    /// Where the keys are fetched from, once known.
    pub fn jwks_url(&self) -> Option<String> {
        self.url.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn has_keys(&self) -> bool {
        !self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    fn cached(&self, kid: &str) -> Option<VerificationKey> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned()
    }

    /// The key named `kid`, refreshing once (rate-limited) when it is unknown.
    pub async fn key(&self, kid: &str) -> Option<VerificationKey> {
        if let Some(k) = self.cached(kid) {
            return Some(k);
        }
        {
            let mut last = self.last_fetch.lock().await;
            // Another request may have refreshed while we waited for the lock.
            if let Some(k) = self.cached(kid) {
                return Some(k);
            }
            if last.is_some_and(|t| t.elapsed() < MIN_REFRESH) {
                return None;
            }
            *last = Some(Instant::now());
            if let Err(e) = self.fetch().await {
                tracing::warn!("JWKS refresh for an unknown kid failed: {e}");
            }
        }
        self.cached(kid)
    }

    /// Fetches the JWKS now (start-up and the periodic refresh).
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch().await
    }

    /// The JWKS URL: configured, already discovered, or discovered now.
    async fn url(&self) -> Result<String, JwksError> {
        if let Some(url) = self.jwks_url() {
            return Ok(url);
        }
        let url = self.discover().await?;
        *self.url.write().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        Ok(url)
    }

    /// `jwks_uri` from the issuer's RFC 8414 metadata.
    async fn discover(&self) -> Result<String, JwksError> {
        #[derive(serde::Deserialize)]
        struct Metadata {
            issuer: String,
            jwks_uri: String,
        }
        let at = format!("{}/.well-known/oauth-authorization-server", self.issuer);
        let resp = self
            .http
            .get(&at)
            .header(TRACEPARENT, outbound_traceparent())
            .send()
            .await
            .map_err(|e| JwksError::unreachable(&at, &e))?;
        if !resp.status().is_success() {
            return Err(JwksError::Status {
                url: at,
                status: resp.status(),
            });
        }
        let meta: Metadata = match resp.json().await {
            Ok(meta) => meta,
            Err(source) => return Err(JwksError::NotMetadata { url: at, source }),
        };
        // RFC 8414 §3.3: metadata naming another issuer must not be used.
        if meta.issuer != self.issuer {
            return Err(JwksError::WrongIssuer {
                url: at,
                named: meta.issuer,
                expected: self.issuer.clone(),
            });
        }
        if let Err(source) = check_jwks_uri(&self.issuer, &meta.jwks_uri) {
            return Err(JwksError::BadJwksUri { url: at, source });
        }
        tracing::info!("discovered the JWKS at {}", meta.jwks_uri);
        Ok(meta.jwks_uri)
    }

    async fn fetch(&self) -> Result<usize, JwksError> {
        let url = self.url().await?;
        let resp = self
            .http
            .get(&url)
            .header(TRACEPARENT, outbound_traceparent())
            .send()
            .await
            .map_err(|e| JwksError::unreachable(&url, &e))?;
        if !resp.status().is_success() {
            return Err(JwksError::Status {
                url,
                status: resp.status(),
            });
        }
        let set: JwkSet = match resp.json().await {
            Ok(set) => set,
            Err(source) => return Err(JwksError::NotJwkSet { url, source }),
        };
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            // The algorithm is pinned: a key of another type or `alg` never verifies anything.
            if !shared::verify::is_ed25519_jwk(jwk) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Arc::new(key));
            }
        }
        let n = keys.len();
        if n == 0 {
            return Err(JwksError::NoUsableKeys { url });
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(n)
    }
}

/// A discovered `jwks_uri` must be an absolute http(s) URL, and https when the issuer is: a
/// tampered or mistaken metadata document must not downgrade the key fetch to plain HTTP.
fn check_jwks_uri(issuer: &str, uri: &str) -> Result<(), JwksUriError> {
    let https = uri.starts_with("https://");
    if !https && !uri.starts_with("http://") {
        return Err(JwksUriError::NotHttp(uri.to_owned()));
    }
    if !https && issuer.starts_with("https://") {
        return Err(JwksUriError::Downgrade(uri.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::{web, App, HttpResponse, HttpServer};

    use super::*;

    /// A stand-in authorization server: its JWKS (counting hits) at `/keys`, and metadata
    /// naming `metadata_issuer` (its own base URL when `None`) and that JWKS.
    async fn fake_issuer(
        hits: Arc<AtomicUsize>,
        metadata_issuer: Option<&str>,
    ) -> (String, actix_web::dev::ServerHandle) {
        let jwks = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "use": "sig",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "oct", "kid": "sym", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "relabelled", "alg": "RS256",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]});
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let metadata = serde_json::json!({
            "issuer": metadata_issuer.unwrap_or(&base),
            "jwks_uri": format!("{base}/keys"),
        });
        let server = HttpServer::new(move || {
            let (hits, jwks, metadata) = (hits.clone(), jwks.clone(), metadata.clone());
            App::new()
                .route(
                    "/keys",
                    web::get().to(move || {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let body = jwks.clone();
                        async move { HttpResponse::Ok().json(body) }
                    }),
                )
                .route(
                    "/.well-known/oauth-authorization-server",
                    web::get().to(move || {
                        let body = metadata.clone();
                        async move { HttpResponse::Ok().json(body) }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (base, handle)
    }

    #[actix_web::test]
    async fn unknown_kids_cannot_make_us_hammer_the_auth_server() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (issuer, _handle) = fake_issuer(hits.clone(), None).await;
        let cache = JwksCache::new(&issuer, None).unwrap();
        cache.refresh().await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(cache.jwks_url(), Some(format!("{issuer}/keys")));
        for i in 0..50 {
            assert!(cache.key(&format!("junk-{i}")).await.is_none());
        }
        // The refresh right after start-up is still inside MIN_REFRESH: no further fetch.
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert!(cache.key("k1").await.is_some());
    }

    #[actix_web::test]
    async fn symmetric_keys_are_never_loaded_and_cached_keys_survive_an_outage() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (issuer, handle) = fake_issuer(hits, None).await;
        let cache = JwksCache::new(&issuer, None).unwrap();
        assert_eq!(cache.refresh().await.unwrap(), 1);
        assert!(cache.key("sym").await.is_none());
        assert!(cache.key("relabelled").await.is_none());
        handle.stop(true).await;
        assert!(cache.refresh().await.is_err());
        assert!(
            cache.key("k1").await.is_some(),
            "keys already cached keep working"
        );
        assert!(cache.has_keys());
    }

    #[actix_web::test]
    async fn metadata_naming_another_issuer_is_not_used() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (issuer, _handle) = fake_issuer(hits.clone(), Some("https://evil.example")).await;
        let cache = JwksCache::new(&issuer, None).unwrap();
        let e = cache.refresh().await.unwrap_err();
        assert!(matches!(e, JwksError::WrongIssuer { .. }), "{e}");
        assert!(e.to_string().contains("https://evil.example"), "{e}");
        assert!(!cache.has_keys());
        assert_eq!(cache.jwks_url(), None, "a refused discovery is not cached");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[actix_web::test]
    async fn jwks_url_overrides_discovery() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (base, _handle) = fake_issuer(hits.clone(), Some("https://elsewhere.example")).await;
        // The metadata names another issuer, but with JWKS_URL it is never read.
        let cache =
            JwksCache::new("https://unreachable.invalid", Some(&format!("{base}/keys"))).unwrap();
        assert_eq!(cache.refresh().await.unwrap(), 1);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[actix_web::test]
    async fn key_fetches_send_a_traceparent_continuing_the_current_trace() {
        use shared::trace::TraceContext;
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let record = seen.clone();
        let server = HttpServer::new(move || {
            let record = record.clone();
            App::new().route(
                "/keys",
                web::get().to(move |req: actix_web::HttpRequest| {
                    let header = req
                        .headers()
                        .get(TRACEPARENT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    record.lock().unwrap().push(header);
                    async { HttpResponse::Ok().json(serde_json::json!({"keys": []})) }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}/keys", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let cache = JwksCache::new("https://unreachable.invalid", Some(&url)).unwrap();

        let request =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let _ = request.scope(cache.refresh()).await;
        let _ = cache.refresh().await;
        handle.stop(true).await;

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let within = TraceContext::parse(&seen[0]).expect("a valid traceparent");
        assert_eq!(within.trace_id(), request.trace_id());
        assert_ne!(within.span_id(), request.span_id(), "a fresh span id");
        // Outside a request (the periodic refresh): a trace of its own.
        let outside = TraceContext::parse(&seen[1]).expect("a valid traceparent");
        assert_ne!(outside.trace_id(), request.trace_id());
    }

    #[test]
    fn a_discovered_jwks_uri_cannot_downgrade_to_plain_http() {
        assert!(check_jwks_uri("https://a.example", "http://a.example/k").is_err());
        assert!(check_jwks_uri("https://a.example", "ftp://a.example/k").is_err());
        assert!(check_jwks_uri("https://a.example", "https://b.example/k").is_ok());
        assert!(check_jwks_uri("http://a.example", "http://a.example/k").is_ok());
    }
}
