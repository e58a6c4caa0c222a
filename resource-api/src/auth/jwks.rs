//! The authorization server's public keys, cached.
//!
//! Fetched from `AUTH_ISSUER/.well-known/jwks.json` at start and every few minutes. A token
//! naming an unknown `kid` triggers a refresh, but at most once per [`MIN_REFRESH`], so junk
//! `kid`s cannot make us hammer the auth server. When the auth server is down, the keys already
//! cached keep working. Symmetric (`oct`) keys are never accepted, whatever the JWKS says.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Unknown-`kid` refreshes happen at most this often.
pub const MIN_REFRESH: Duration = Duration::from_secs(10);

/// A published key: the decoding key and the one algorithm it may verify.
#[derive(Clone)]
pub struct VerificationKey {
    pub key: Arc<DecodingKey>,
    pub algorithm: Algorithm,
}

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, VerificationKey>>,
    /// Serialises fetches and remembers when the last one started.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    pub fn new(issuer: &str) -> Self {
        JwksCache {
            url: format!("{issuer}/.well-known/jwks.json"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
        }
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
                log::warn!("JWKS refresh for an unknown kid failed: {e}");
            }
        }
        self.cached(kid)
    }

    /// Fetches the JWKS now (start-up and the periodic refresh).
    pub async fn refresh(&self) -> Result<usize, String> {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch().await
    }

    async fn fetch(&self) -> Result<usize, String> {
        let resp = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        if !resp.status().is_success() {
            return Err(format!("{} answered {}", self.url, resp.status()));
        }
        let set: JwkSet = resp
            .json()
            .await
            .map_err(|e| format!("{}: not a JWK set: {e}", self.url))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let algorithm = match (
                &jwk.algorithm,
                jwk.common
                    .key_algorithm
                    .and_then(|a| a.to_string().parse::<Algorithm>().ok()),
            ) {
                // Symmetric keys would let anyone holding the "public" value sign tokens.
                (AlgorithmParameters::OctetKey(_), _) => continue,
                (_, Some(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)) => continue,
                (_, Some(alg)) => alg,
                (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
                _ => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(
                    kid,
                    VerificationKey {
                        key: Arc::new(key),
                        algorithm,
                    },
                );
            }
        }
        let n = keys.len();
        if n == 0 {
            return Err(format!("{} holds no usable keys", self.url));
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::{web, App, HttpResponse, HttpServer};

    use super::*;

    /// A stand-in JWKS endpoint that counts its hits.
    async fn fake_jwks(hits: Arc<AtomicUsize>) -> (String, actix_web::dev::ServerHandle) {
        let jwks = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "use": "sig",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "oct", "kid": "sym", "alg": "HS256", "k": "c2VjcmV0"}
        ]});
        let server = HttpServer::new(move || {
            let (hits, jwks) = (hits.clone(), jwks.clone());
            App::new().route(
                "/.well-known/jwks.json",
                web::get().to(move || {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = jwks.clone();
                    async move { HttpResponse::Ok().json(body) }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (format!("http://{addr}"), handle)
    }

    #[actix_web::test]
    async fn unknown_kids_cannot_make_us_hammer_the_auth_server() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (issuer, _handle) = fake_jwks(hits.clone()).await;
        let cache = JwksCache::new(&issuer);
        cache.refresh().await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        for i in 0..50 {
            assert!(cache.key(&format!("junk-{i}")).await.is_none());
        }
        // The refresh right after start-up is still inside MIN_REFRESH: no further fetch.
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(cache.key("k1").await.unwrap().algorithm, Algorithm::EdDSA);
    }

    #[actix_web::test]
    async fn symmetric_keys_are_never_loaded_and_cached_keys_survive_an_outage() {
        let hits = Arc::new(AtomicUsize::new(0));
        let (issuer, handle) = fake_jwks(hits).await;
        let cache = JwksCache::new(&issuer);
        assert_eq!(cache.refresh().await.unwrap(), 1);
        assert!(cache.key("sym").await.is_none());
        handle.stop(true).await;
        assert!(cache.refresh().await.is_err());
        assert!(
            cache.key("k1").await.is_some(),
            "keys already cached keep working"
        );
        assert!(cache.has_keys());
    }
}
