//! Building the server: database, keys, routes, background refresh. The one place routes and
//! app data are registered. Binds a `TcpListener` so tests can use port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use shared::db::Db;
use shared::routing::Endpoint;
use shared::skeleton::Skeleton;

use crate::db::revoked_tokens::RevokedTokenRow;
use crate::routes::{admin, health, oauth, well_known, AppState};
use crate::service::audit::{self, AuditAggregator};
use crate::service::client_auth::ClientAuthenticator;
use crate::service::last_token::LastTokenTracker;
use crate::service::now_micros;
use crate::service::operators::Operators;
use crate::service::signing::{KekRing, KeyStore};
use shared::ratelimit::Limiter;
use shared::redis_store::RedisStore;
use shared::throttle::FailureThrottle;

/// Wrong admin tokens tolerated per source address in a burst, and how often one comes back.
const ADMIN_FAILURE_BURST: u32 = 10;
const ADMIN_FAILURE_REFILL: Duration = Duration::from_secs(6);
/// How often ended console sessions are deleted.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// Credential changes are kept this long; a replica away longer reloads in full.
const CHANGE_FEED_RETENTION_US: i64 = 3_600_000_000;
use crate::Config;

pub struct Application {
    port: u16,
    server: Server,
    /// With `METRICS_BIND`: the server that alone answers `/metrics`, and its port.
    metrics_server: Option<(u16, Server)>,
    /// What writes the `last_token_at` notes and the refused attempts still in memory when the
    /// server stops.
    shutdown_flush: (Db, Arc<LastTokenTracker>, Arc<AuditAggregator>),
}

impl Application {
    /// Connects and migrates the database, loads (or creates) the signing keys and binds the
    /// listener. Any failure is returned as one line naming what is wrong.
    pub async fn build(config: Config) -> Result<Application, String> {
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| format!("AUTH_BIND: cannot listen on {}: {e}", config.bind))?;
        Self::build_with_listener(config, listener).await
    }

    /// As [`Application::build`], on a listener bound by the caller (tests bind port 0 first so
    /// that the issuer URL can name the real port).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Application, String> {
        let kek = config.signing_key_encryption_key.clone().ok_or(
            "SIGNING_KEY_ENCRYPTION_KEY is not set: private signing keys are encrypted at rest \
             with it (generate one with `openssl rand -base64 32`)",
        )?;
        let keks = KekRing::new(kek, config.previous_signing_key_encryption_key.clone());
        let pool_size = config.db_pool_size;
        let db = Db::connect(&config.database_url, config.db_pool_size)
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        let keys = Arc::new(
            KeyStore::load_or_create(&db, &keks, now_micros())
                .map_err(|e| format!("signing keys: {e}"))?,
        );
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        tracing::info!(
            "auth-server on {} using {}",
            listener.local_addr().map_err(|e| e.to_string())?,
            db.target().describe()
        );
        let (db2, keys2) = (db.clone(), keys.clone());
        // Re-reads signing keys (a rotation by the CLI or another replica is picked up) and
        // purges revocations of expired tokens.
        shared::skeleton::every(
            "signing-key refresh",
            Duration::from_secs(config.key_refresh_secs.max(1)),
            move || {
                let now = now_micros();
                keys2.refresh(&db2, now)?;
                db2.run_blocking(move |c| {
                    RevokedTokenRow::purge_expired(c, now)?;
                    shared::changes::prune(c, now - CHANGE_FEED_RETENTION_US)
                })
                .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            },
        );
        // Dead console sessions are refused when presented; this only keeps the table small.
        let (db4, console) = (db.clone(), config.console.clone());
        shared::skeleton::every("console session purge", SESSION_PURGE_INTERVAL, move || {
            db4.run_blocking(|c| crate::service::sessions::purge(c, &console, now_micros()))
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        if let Some(url) = config.database_listen_url.clone() {
            // A signing key added, retired or revoked by another replica or the CLI is loaded
            // at once (and in full after every reconnection); the periodic refresh stays.
            let wake = Arc::new(tokio::sync::Notify::new());
            let notify = wake.clone();
            shared::changes::listen(
                url,
                Arc::new(move |event| match event {
                    shared::changes::FeedEvent::Connected
                    | shared::changes::FeedEvent::Notified {
                        kind: Some(shared::changes::ChangeKind::SigningKey) | None,
                        ..
                    } => notify.notify_one(),
                    shared::changes::FeedEvent::Notified { .. } => {}
                }),
            )
            .map_err(|e| format!("DATABASE_LISTEN_URL: {e}"))?;
            let (db3, keys3) = (db.clone(), keys.clone());
            actix_web::rt::spawn(async move {
                loop {
                    wake.notified().await;
                    let (db, keys) = (db3.clone(), keys3.clone());
                    match web::block(move || keys.refresh(&db, now_micros())).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!("signing-key refresh failed: {e}"),
                        Err(_) => tracing::warn!("signing-key refresh was cancelled"),
                    }
                }
            });
        }
        let mut metrics = shared::metrics::Metrics::new(
            "caseforge_auth",
            "auth-server",
            env!("CARGO_PKG_VERSION"),
        )
        .with_tokens_issued();
        let redis = match &config.redis_url {
            Some(url) => {
                metrics = metrics.with_redis_errors();
                let store = RedisStore::open(url, "caseforge:", metrics.redis_errors.clone())
                    .map_err(|e| format!("REDIS_URL: {e}"))?;
                tracing::info!("issuance limits and failure throttles shared through redis");
                Some(std::sync::Arc::new(store))
            }
            None => None,
        };
        let metrics = web::Data::new(metrics);
        // `last_token_at` is written in batches, never per token (service::last_token).
        let last_tokens = Arc::new(LastTokenTracker::new());
        let (db4, tracker) = (db.clone(), last_tokens.clone());
        shared::skeleton::every(
            "writing last_token_at",
            Duration::from_secs(config.last_used_flush_secs.max(1)),
            move || tracker.flush(&db4),
        );
        // Refused attempts reach the audit trail as one event per key and window
        // (service::audit::AuditAggregator), written every window and at shutdown.
        let audit_key = keks.audit_keys().current;
        let refusals = Arc::new(AuditAggregator::new(audit_key.clone(), audit::REFUSAL_KEYS));
        let (db5, aggregator) = (db.clone(), refusals.clone());
        shared::skeleton::every(
            "writing refused attempts to the audit trail",
            audit::REFUSAL_WINDOW,
            move || aggregator.flush(&db5, now_micros()),
        );
        let shutdown_flush = (db.clone(), last_tokens.clone(), refusals.clone());
        let trusted_proxies = config.trusted_proxies.clone();
        let (skeleton, metrics_server) =
            Skeleton::new(&db, metrics.clone(), config.metrics_bind, &trusted_proxies)?;
        let cors_origins = config.cors_allowed_origins.clone();
        let openapi = web::Data::new(crate::openapi::document(&config.issuer));
        let state = web::Data::new(AppState {
            clients: match &redis {
                Some(store) => {
                    ClientAuthenticator::new(config.bcrypt_cost, config.bcrypt_concurrency)
                        .with_shared_throttle(store.clone())
                }
                None => ClientAuthenticator::new(config.bcrypt_cost, config.bcrypt_concurrency),
            },
            issuance: match &redis {
                Some(store) => Limiter::shared("issuance", store.clone()),
                None => Limiter::local(),
            },
            admin_failures: match &redis {
                Some(store) => {
                    FailureThrottle::new(ADMIN_FAILURE_BURST, ADMIN_FAILURE_REFILL, 100_000)
                        .shared("admin", store.clone())
                }
                None => FailureThrottle::new(ADMIN_FAILURE_BURST, ADMIN_FAILURE_REFILL, 100_000),
            },
            operators: {
                let operators = Operators::new(
                    config.console.operator_bcrypt_cost,
                    config.signing_key_encryption_key.clone(),
                )
                .with_previous_kek(config.previous_signing_key_encryption_key.clone())
                .with_metrics(&metrics);
                match &redis {
                    Some(store) => operators.with_shared_throttle(store.clone()),
                    None => operators,
                }
            },
            db,
            config,
            keys,
            last_tokens,
            audit_key,
            refusals,
        });
        let server = shared::skeleton::serve(
            listener,
            &trusted_proxies,
            shared::skeleton::max_blocking_threads(pool_size),
            move || {
                App::new()
                    .app_data(state.clone())
                    .configure(|cfg| skeleton.configure(cfg))
                    .app_data(openapi.clone())
                    // Innermost first: CORS answers preflights before any route; the request span
                    // puts the id on the response before the envelope rewrite copies headers.
                    .wrap(shared::cors::middleware(&cors_origins))
                    .wrap(from_fn(shared::http::no_store_under_private_prefixes))
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
            shutdown_flush,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// The refused attempts waiting for the audit trail (tests flush them at once).
    pub fn refusals(&self) -> Arc<AuditAggregator> {
        self.shutdown_flush.2.clone()
    }

    /// Serves until stopped, then writes the `last_token_at` notes and the refused attempts
    /// still in memory.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result =
            shared::metrics::run_beside(self.server, self.metrics_server.map(|(_, s)| s)).await;
        let (db, tracker, refusals) = self.shutdown_flush;
        let _ = web::block(move || {
            if let Err(e) = tracker.flush(&db) {
                tracing::warn!("last_token_at not written at shutdown: {e}");
            }
            if let Err(e) = refusals.flush(&db, now_micros()) {
                tracing::warn!("refused attempts not written to the audit trail at shutdown: {e}");
            }
        })
        .await;
        result
    }
}

/// Every route of the auth server (`/metrics` is added by [`Application::build`], on this
/// port or on `METRICS_BIND`). Each path is one [`Endpoint`], so that a method it does not
/// serve is 405 with `Allow`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/healthz").get(health::healthz))
        .service(Endpoint::new("/readyz").get(health::readyz))
        .service(Endpoint::new("/openapi.json").get(crate::openapi::serve))
        .configure(shared::docs::routes)
        .service(Endpoint::new("/oauth/token").post(oauth::token))
        .service(Endpoint::new("/oauth/introspect").post(oauth::introspect))
        .service(Endpoint::new("/oauth/revoke").post(oauth::revoke))
        .service(Endpoint::new("/.well-known/jwks.json").get(well_known::jwks))
        .service(Endpoint::new("/.well-known/oauth-authorization-server").get(well_known::metadata))
        .service(
            Endpoint::new("/admin/applications")
                .get(admin::list_applications)
                .post(admin::create_application),
        )
        .service(
            Endpoint::new("/admin/applications/{client_id}")
                .get(admin::get_application)
                .patch(admin::patch_application)
                .delete(admin::delete_application),
        )
        .service(
            Endpoint::new("/admin/applications/{client_id}/rotate-secret")
                .post(admin::rotate_secret),
        )
        .service(
            Endpoint::new("/admin/applications/{client_id}/revoke-tokens")
                .post(admin::revoke_tokens),
        )
        .service(
            Endpoint::new("/admin/api-keys")
                .get(admin::list_api_keys)
                .post(admin::create_api_key),
        )
        .service(
            Endpoint::new("/admin/api-keys/{id}")
                .get(admin::get_api_key)
                .delete(admin::revoke_api_key),
        )
        .service(Endpoint::new("/admin/audit-events").get(admin::list_audit_events))
        .service(Endpoint::new("/admin/audit-events/export").get(admin::export_audit_events))
        .configure(crate::console::configure);
}
