//! Building the server: database, credential state, JWKS, background refresh, and the one
//! place routes are registered. Binds a `TcpListener` so tests can use port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Logger};
use actix_web::{web, App, HttpServer};
use shared::db::Db;

use crate::auth::jwks::JwksCache;
use crate::auth::ratelimit::{InMemoryRateLimiter, RateLimiter};
use crate::auth::state::CredentialState;
use crate::auth::tokens::TokenCache;
use crate::auth::{self, Authenticator};
use crate::routes::{activity, cases, health, me, records, AppState};
use crate::service::now_micros;
use crate::Config;

pub struct Application {
    port: u16,
    server: Server,
    authn: web::Data<Authenticator>,
}

/// The JWKS is re-read this often even when no unknown `kid` shows up.
const JWKS_REFRESH: Duration = Duration::from_secs(300);
/// Until the first JWKS arrives, retry this often.
const JWKS_RETRY: Duration = Duration::from_secs(2);
/// Every this many polls, reload credential state in full.
const FULL_RELOAD_EVERY: u32 = 60;

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
        let db = Db::connect(&config.database_url, config.db_pool_size)
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        let indexed = crate::service::watchlist::index_stale_entries(&db)
            .map_err(|e| format!("DATABASE_URL: cannot index the watchlist: {e}"))?;
        if indexed > 0 {
            log::info!("indexed {indexed} watchlist entries for screening");
        }
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let limiter: Arc<dyn RateLimiter> = Arc::new(InMemoryRateLimiter::new());
        let metrics = web::Data::new(shared::metrics::Metrics::new("caseforge_api"));
        let authn = web::Data::new(Authenticator {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            jwks: JwksCache::new(&config.issuer),
            state: CredentialState::new(),
            tokens: TokenCache::new(),
            limiter,
            db: db.clone(),
            metrics: metrics.clone(),
        });
        authn
            .state
            .refresh(&db, now_micros(), true)
            .map_err(|e| format!("DATABASE_URL: cannot read credentials: {e}"))?;
        match authn.jwks.refresh().await {
            Ok(n) => log::info!("loaded {n} signing key(s) from {}", config.issuer),
            Err(e) => log::warn!("authorization server not reachable yet ({e}); /readyz answers 503 until its keys load"),
        }
        spawn_background(
            authn.clone(),
            config.credential_poll,
            config.last_used_flush,
        );
        log::info!(
            "resource-api on port {port} using {}",
            db.target().describe()
        );
        let db_data = web::Data::new(db.clone());
        let state = web::Data::new(AppState { db });
        let app_authn = authn.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(app_authn.clone())
                .app_data(metrics.clone())
                .app_data(db_data.clone())
                .configure(shared::http::edge)
                .wrap(shared::http::envelope_errors())
                .wrap(
                    Logger::new(r#"%a "%{method}xi %U" %s %b %Dms"#)
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
                .wrap(from_fn(shared::metrics::record))
                .configure(routes)
                .default_service(web::to(shared::http::not_found))
        })
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        Ok(Application {
            port,
            server,
            authn,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped, then writes the `last_used_at` values still in memory.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let authn = self.authn.clone();
        let _ = web::block(move || authn.state.flush_last_used(&authn.db)).await;
        result
    }
}

/// Every route. `/v2` sits behind the authentication middleware; each handler names its scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/openapi.json", web::get().to(health::openapi))
        .route("/metrics", web::get().to(shared::metrics::handler))
        .service(
            web::scope("/v2")
                .wrap(from_fn(auth::authenticate))
                .route("/me", web::get().to(me::me))
                .route("/api_keys/validate", web::post().to(me::validate_api_key))
                .service(
                    web::resource("/cases")
                        .route(web::get().to(cases::list))
                        .route(web::post().to(cases::create)),
                )
                .service(
                    web::resource("/cases/{id}")
                        .route(web::get().to(cases::get))
                        .route(web::patch().to(cases::patch)),
                )
                .route("/cases/{id}/history", web::get().to(cases::history))
                .route("/cases/{id}/assign", web::post().to(cases::assign))
                .route("/cases/{id}/close", web::post().to(cases::close))
                .service(
                    web::resource("/sars")
                        .route(web::get().to(records::list_sars))
                        .route(web::post().to(records::create_sar)),
                )
                .service(
                    web::resource("/sars/{id}")
                        .route(web::get().to(records::get_sar))
                        .route(web::patch().to(records::patch_sar)),
                )
                .route("/sars/{id}/submit", web::post().to(records::submit_sar))
                .route("/watchlist/screen", web::post().to(records::screen))
                .service(
                    web::resource("/watchlist")
                        .route(web::get().to(records::list_watchlist))
                        .route(web::post().to(records::create_watchlist)),
                )
                .service(
                    web::resource("/watchlist/{id}")
                        .route(web::get().to(records::get_watchlist))
                        .route(web::patch().to(records::patch_watchlist))
                        .route(web::delete().to(records::delete_watchlist)),
                )
                .service(
                    web::resource("/subjects")
                        .route(web::get().to(records::list_subjects))
                        .route(web::post().to(records::create_subject)),
                )
                .service(
                    web::resource("/subjects/{id}")
                        .route(web::get().to(records::get_subject))
                        .route(web::patch().to(records::patch_subject)),
                )
                .route("/transactions", web::get().to(activity::transactions))
                .route("/alerts", web::get().to(activity::alerts)),
        );
}

fn spawn_background(authn: web::Data<Authenticator>, poll: Duration, flush: Duration) {
    let a = authn.clone();
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(poll);
        let mut n: u32 = 0;
        loop {
            ticker.tick().await;
            n = n.wrapping_add(1);
            let full = n % FULL_RELOAD_EVERY == 0;
            let a2 = a.clone();
            match web::block(move || a2.state.refresh(&a2.db, now_micros(), full)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    log::warn!("credential refresh failed (serving the state already loaded): {e}")
                }
                Err(_) => log::warn!("credential refresh was cancelled"),
            }
        }
    });
    let a = authn.clone();
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(flush);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let a2 = a.clone();
            if let Ok(Err(e)) = web::block(move || a2.state.flush_last_used(&a2.db)).await {
                log::warn!("writing last_used_at failed: {e}");
            }
        }
    });
    actix_web::rt::spawn(async move {
        loop {
            let wait = if authn.jwks.has_keys() {
                JWKS_REFRESH
            } else {
                JWKS_RETRY
            };
            actix_web::rt::time::sleep(wait).await;
            match authn.jwks.refresh().await {
                Ok(_) => {}
                Err(e) => log::warn!("JWKS refresh failed (keeping cached keys): {e}"),
            }
        }
    });
}
