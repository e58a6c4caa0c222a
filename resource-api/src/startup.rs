//! Building the server: database, credential state, JWKS, background refresh, and the one
//! place routes are registered. Binds a `TcpListener` so tests can use port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use shared::db::Db;
use shared::routing::Endpoint;
use shared::skeleton::Skeleton;

use crate::auth::jwks::JwksCache;
use crate::auth::ratelimit::Limiter;
use crate::auth::state::{CredentialState, Refresh};
use crate::auth::tokens::TokenCache;
use crate::auth::{self, Authenticator};
use crate::routes::{activity, cases, health, me, sars, subjects, watchlist, AppState};
use crate::service::now_micros;
use crate::service::watchlist::Scoring;
use crate::Config;
use shared::redis_store::RedisStore;

pub struct Application {
    port: u16,
    server: Server,
    /// With `METRICS_BIND`: the server that alone answers `/metrics`, and its port.
    metrics_server: Option<(u16, Server)>,
    authn: web::Data<Authenticator>,
    scoring: Scoring,
}

/// Until the first JWKS arrives, retry this often.
const JWKS_RETRY: Duration = Duration::from_secs(2);
/// This often, applications and revocations are reloaded in full.
const FULL_RELOAD_EVERY: Duration = Duration::from_secs(60);

impl Application {
    pub async fn build(config: Config) -> Result<Application, String> {
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| format!("API_BIND: cannot listen on {}: {e}", config.bind))?;
        Self::build_with_listener(config, listener).await
    }

    /// As [`Application::build`], on a listener bound by the caller.
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Application, String> {
        let pool_size = config.db_pool_size;
        let db = Db::connect(&config.database_url, config.db_pool_size)
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        let indexed = crate::service::watchlist::index_stale_entries(&db)
            .map_err(|e| format!("DATABASE_URL: cannot index the watchlist: {e}"))?;
        if indexed > 0 {
            tracing::info!("indexed {indexed} watchlist entries for screening");
        }
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // It issues no tokens: no `tokens_issued_total`, which could only show zero here.
        let mut metrics = shared::metrics::Metrics::new(
            "caseforge_api",
            "resource-api",
            env!("CARGO_PKG_VERSION"),
        );
        let redis = match &config.redis_url {
            Some(url) => {
                metrics = metrics.with_redis_errors();
                let store = RedisStore::open(url, "caseforge:", metrics.redis_errors.clone())
                    .map_err(|e| format!("REDIS_URL: {e}"))?;
                tracing::info!("rate limits and failure throttles shared through redis");
                Some(Arc::new(store))
            }
            None => None,
        };
        let metrics = web::Data::new(metrics);
        let limiter = Arc::new(match &redis {
            Some(store) => Limiter::shared("api", store.clone()),
            None => Limiter::local(),
        });
        let mut failures_by_source = Authenticator::source_throttle();
        if let Some(store) = &redis {
            failures_by_source = failures_by_source.shared("source", store.clone());
        }
        let authn = web::Data::new(Authenticator {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            jwks: JwksCache::new(&config.issuer, config.jwks_url.as_deref())?,
            state: CredentialState::new(),
            tokens: TokenCache::new(),
            limiter,
            db: db.clone(),
            metrics: metrics.clone(),
            failures_by_source,
        });
        authn
            .state
            .refresh(&db, now_micros(), Refresh::Reset)
            .map_err(|e| format!("DATABASE_URL: cannot read credentials: {e}"))?;
        match authn.jwks.refresh().await {
            Ok(n) => tracing::info!(
                "loaded {n} signing key(s) from {}",
                authn.jwks.jwks_url().unwrap_or_default()
            ),
            Err(e) => tracing::warn!("authorization server not reachable yet ({e}); /readyz answers 503 until its keys load"),
        }
        spawn_background(
            authn.clone(),
            config.credential_poll,
            config.last_used_flush,
            config.jwks_refresh,
        );
        if let Some(url) = config.database_listen_url.clone() {
            let a = authn.clone();
            // The first connection only needs the changes since the start's load (the cursor);
            // after a reconnection everything is reloaded.
            let connected_before = std::sync::atomic::AtomicBool::new(false);
            shared::changes::listen(
                url,
                Arc::new(move |event| match event {
                    shared::changes::FeedEvent::Connected => {
                        if connected_before.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            a.state.request_reset();
                        } else {
                            a.state.wake.notify_one();
                        }
                    }
                    shared::changes::FeedEvent::Notified { .. } => a.state.wake.notify_one(),
                }),
            )
            .map_err(|e| format!("DATABASE_LISTEN_URL: {e}"))?;
        }
        tracing::info!(
            "resource-api on port {port} using {}",
            db.target().describe()
        );
        let trusted_proxies = config.trusted_proxies.clone();
        let (skeleton, metrics_server) =
            Skeleton::new(&db, metrics, config.metrics_bind, &trusted_proxies)?;
        let cors_origins = config.cors_allowed_origins.clone();
        let lists = web::Data::new(crate::pagination::Lists::new(
            config.db_pool_size,
            &config.public_url,
        ));
        let scoring = Scoring::new(&config.scoring);
        let app_scoring = web::Data::new(scoring.clone());
        let state = web::Data::new(AppState { db });
        let openapi = web::Data::new(crate::openapi::document(&config.public_url, &config.issuer));
        // `/docs` may call the issuer: Swagger UI's "Authorize" fetches a token from its token
        // endpoint (which must list this API's origin in its CORS_ALLOWED_ORIGINS).
        let docs_connect = web::Data::new(shared::docs::ConnectTo::origins_of(&[&config.issuer]));
        let app_authn = authn.clone();
        let server = shared::skeleton::serve(
            listener,
            &trusted_proxies,
            shared::skeleton::max_blocking_threads(pool_size),
            move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(app_authn.clone())
                    .configure(|cfg| skeleton.configure(cfg))
                    .app_data(openapi.clone())
                    .app_data(docs_connect.clone())
                    .app_data(lists.clone())
                    .app_data(app_scoring.clone())
                    // CORS innermost, so that it answers preflights before the `/v2`
                    // authentication and its answers still get the envelope.
                    .wrap(shared::cors::middleware(&cors_origins))
                    .wrap(from_fn(shared::http::no_store_under_private_prefixes))
                    // The request span puts the id on the response before the envelope rewrite
                    // copies headers, as on the auth server.
                    .wrap(from_fn(shared::telemetry::request_span))
                    .wrap(shared::http::envelope_errors())
                    .wrap(from_fn(shared::metrics::record))
                    .configure(routes)
                    .default_service(web::to(shared::http::not_found))
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(Application {
            port,
            server,
            metrics_server,
            authn,
            scoring,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The scoring turns and what the screens did (tests read the counts).
    pub fn scoring(&self) -> Scoring {
        self.scoring.clone()
    }

    /// The port `/metrics` is served on when `METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Serves until stopped, then writes the `last_used_at` values still in memory.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result =
            shared::metrics::run_beside(self.server, self.metrics_server.map(|(_, s)| s)).await;
        let authn = self.authn.clone();
        let _ = web::block(move || authn.state.flush_last_used(&authn.db)).await;
        result
    }
}

/// Every route. `/v2` sits behind the authentication middleware; each handler names its scope.
/// Each path is one
/// [`Endpoint`], so that a method it does not serve is 405 with `Allow`. `/metrics` is added
/// by [`Application::build`], on this port or on `METRICS_BIND`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/healthz").get(health::healthz))
        .service(Endpoint::new("/readyz").get(health::readyz))
        .service(Endpoint::new("/openapi.json").get(crate::openapi::serve))
        .configure(shared::docs::routes)
        .service(
            web::scope("/v2")
                .wrap(from_fn(auth::authenticate))
                .service(Endpoint::new("/me").get(me::me))
                .service(Endpoint::new("/api_keys/validate").post(me::validate_api_key))
                .service(Endpoint::new("/cases").get(cases::list).post(cases::create))
                .service(
                    Endpoint::new("/cases/{id}")
                        .get(cases::get)
                        .patch(cases::patch),
                )
                .service(Endpoint::new("/cases/{id}/history").get(cases::history))
                .service(Endpoint::new("/cases/{id}/assign").post(cases::assign))
                .service(Endpoint::new("/cases/{id}/close").post(cases::close))
                .service(
                    Endpoint::new("/sars")
                        .get(sars::list_sars)
                        .post(sars::create_sar),
                )
                .service(
                    Endpoint::new("/sars/{id}")
                        .get(sars::get_sar)
                        .patch(sars::patch_sar),
                )
                .service(Endpoint::new("/sars/{id}/submit").post(sars::submit_sar))
                .service(Endpoint::new("/watchlist/screen").post(watchlist::screen))
                .service(
                    Endpoint::new("/watchlist")
                        .get(watchlist::list_watchlist)
                        .post(watchlist::create_watchlist),
                )
                .service(
                    Endpoint::new("/watchlist/{id}")
                        .get(watchlist::get_watchlist)
                        .patch(watchlist::patch_watchlist)
                        .delete(watchlist::delete_watchlist),
                )
                .service(
                    Endpoint::new("/subjects")
                        .get(subjects::list_subjects)
                        .post(subjects::create_subject),
                )
                .service(
                    Endpoint::new("/subjects/{id}")
                        .get(subjects::get_subject)
                        .patch(subjects::patch_subject),
                )
                .service(Endpoint::new("/transactions").get(activity::transactions))
                .service(Endpoint::new("/alerts").get(activity::alerts)),
        );
}

fn spawn_background(
    authn: web::Data<Authenticator>,
    poll: Duration,
    flush: Duration,
    jwks_refresh: Duration,
) {
    // The credential refresh: every `poll`, and at once when the change feed's LISTEN
    // connection reports a change (or came back, which resets).
    let a = authn.clone();
    actix_web::rt::spawn(async move {
        let mut last_full = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = actix_web::rt::time::sleep(poll) => {}
                _ = a.state.wake.notified() => {}
            }
            let mode = if a.state.take_reset_due() {
                Refresh::Reset
            } else if last_full.elapsed() >= FULL_RELOAD_EVERY {
                last_full = std::time::Instant::now();
                Refresh::Full
            } else {
                Refresh::Changes
            };
            let b = a.clone();
            match web::block(move || b.state.refresh(&b.db, now_micros(), mode)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if mode == Refresh::Reset {
                        a.state.request_reset();
                        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
                    }
                    tracing::warn!(
                        "credential refresh failed (keeping the state already loaded): {e}"
                    )
                }
                Err(_) => tracing::warn!("credential refresh was cancelled"),
            }
        }
    });
    let a = authn.clone();
    shared::skeleton::every("writing last_used_at", flush, move || {
        a.state.flush_last_used(&a.db)
    });
    actix_web::rt::spawn(async move {
        loop {
            let wait = if authn.jwks.has_keys() {
                jwks_refresh
            } else {
                JWKS_RETRY
            };
            actix_web::rt::time::sleep(wait).await;
            match authn.jwks.refresh().await {
                Ok(_) => {}
                Err(e) => tracing::warn!("JWKS refresh failed (keeping cached keys): {e}"),
            }
        }
    });
}
