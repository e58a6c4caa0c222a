//! Building the server: credential state, JWKS, background refresh, and the one place routes
//! and app data are registered. What both services share (database, Redis, metrics, the
//! middleware chain, the server itself) comes from [`shared::skeleton::ServiceBuilder`].
//! Binds a `TcpListener` so tests can use port 0.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::middleware::from_fn;
use actix_web::web;
use shared::changes::FeedEvent;
use shared::routing::Endpoint;
use shared::skeleton::{RunningService, ServiceBuilder};

use crate::auth::jwks::JwksCache;
use crate::auth::ratelimit::Limiter;
use crate::auth::state::{CredentialState, Refresh};
use crate::auth::tokens::TokenCache;
use crate::auth::{self, Authenticator};
use crate::routes::{activity, cases, health, me, sars, subjects, watchlist, webhooks, AppState};
use crate::service::now_micros;
use crate::service::watchlist::Scoring;
use crate::service::webhooks::worker::{WebhookMetrics, Worker};
use crate::service::webhooks::Webhooks;
use crate::Config;

pub struct Application {
    service: RunningService,
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
        // It issues no tokens: no `tokens_issued_total`, which could only show zero here.
        let metrics = shared::metrics::Metrics::new(
            "caseforge_api",
            "resource-api",
            env!("CARGO_PKG_VERSION"),
        );
        let mut service = ServiceBuilder::new("resource-api", &config.common, listener, metrics)?;
        let db = service.db().clone();
        let indexed = crate::service::watchlist::index_stale_entries(&db)
            .map_err(|e| format!("DATABASE_URL: cannot index the watchlist: {e}"))?;
        if indexed > 0 {
            tracing::info!("indexed {indexed} watchlist entries for screening");
        }
        let authn = web::Data::new(Authenticator {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            jwks: JwksCache::new(&config.issuer, config.jwks_url.as_deref())
                .map_err(|e| e.to_string())?,
            state: CredentialState::new(),
            tokens: TokenCache::new(),
            limiter: Arc::new(
                service.share(Limiter::local(), |_, store| Limiter::shared("api", store)),
            ),
            db: db.clone(),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            nonces: config
                .common
                .dpop_nonce_key
                .as_ref()
                .map(shared::dpop::Nonces::new),
            replay: service.share(
                shared::replay::ReplayGuard::new(db.clone()),
                |guard, store| guard.shared(store),
            ),
            metrics: service.metrics().clone(),
            failures_by_source: service
                .share(Authenticator::source_throttle(), |throttle, store| {
                    throttle.shared("source", store)
                }),
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
        let hooks = Arc::new(Webhooks::new(&config.webhooks));
        if config.webhooks.settings.secret_key.is_none() {
            tracing::warn!(
                "WEBHOOK_SECRET_KEY is not set: webhook endpoints cannot be created (503)"
            );
        }
        spawn_background(&mut service, &authn, &config, &hooks)?;
        let lists = web::Data::new(crate::pagination::Lists::new(
            config.db_pool_size,
            &config.public_url,
        ));
        let scoring = Scoring::new(&config.scoring);
        let app_scoring = web::Data::new(scoring.clone());
        let state = web::Data::new(AppState { db });
        let app_hooks = web::Data::from(hooks);
        let openapi = web::Data::new(crate::openapi::document(&config.public_url, &config.issuer));
        // `/docs` may call the issuer: Swagger UI's "Authorize" fetches a token from its token
        // endpoint (which must list this API's origin in its CORS_ALLOWED_ORIGINS).
        let docs_connect = web::Data::new(shared::docs::ConnectTo::origins_of(&[&config.issuer]));
        let service = service.serve(move |cfg| {
            cfg.app_data(state.clone())
                .app_data(authn.clone())
                .app_data(openapi.clone())
                .app_data(docs_connect.clone())
                .app_data(lists.clone())
                .app_data(app_scoring.clone())
                .app_data(app_hooks.clone())
                .configure(routes);
        })?;
        Ok(Application { service, scoring })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The scoring turns and what the screens did (tests read the counts).
    pub fn scoring(&self) -> Scoring {
        self.scoring.clone()
    }

    /// The port `/metrics` is served on when `METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.service.metrics_port()
    }

    /// Serves until stopped, then writes the `last_used_at` values still in memory.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.service.run_until_stopped().await
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
                .service(
                    Endpoint::new("/webhook-endpoints")
                        .get(webhooks::list)
                        .post(webhooks::create),
                )
                .service(
                    Endpoint::new("/webhook-endpoints/{id}")
                        .get(webhooks::get)
                        .patch(webhooks::patch)
                        .delete(webhooks::delete),
                )
                .service(
                    Endpoint::new("/webhook-endpoints/{id}/rotate-secret")
                        .post(webhooks::rotate_secret),
                )
                .service(
                    Endpoint::new("/webhook-endpoints/{id}/deliveries").get(webhooks::deliveries),
                )
                .service(
                    Endpoint::new("/webhook-endpoints/{id}/deliveries/{delivery_id}/retry")
                        .post(webhooks::retry),
                )
                .service(Endpoint::new("/transactions").get(activity::transactions))
                .service(Endpoint::new("/alerts").get(activity::alerts)),
        );
}

/// The credential refresh (every `CREDENTIAL_POLL_SECS`, and at once when the change feed's
/// LISTEN connection reports a change, or came back, which resets), the `last_used_at` flush
/// (also at shutdown), the JWKS refresh (sooner while no key is loaded) and the webhook worker
/// (woken by the outbox's notifications; its gauges and retention prune).
fn spawn_background(
    service: &mut ServiceBuilder,
    authn: &web::Data<Authenticator>,
    config: &Config,
    hooks: &Arc<Webhooks>,
) -> Result<(), String> {
    // The first connection only needs the changes since the start's load (the cursor); after
    // a reconnection everything is reloaded.
    let (a, connected_before) = (authn.clone(), AtomicBool::new(false));
    let outbox_wake = hooks.wake.clone();
    service.on_change_feed(move |event| match event {
        FeedEvent::Outbox => outbox_wake.notify_one(),
        FeedEvent::Connected => {
            if connected_before.swap(true, Ordering::SeqCst) {
                a.state.request_reset();
            } else {
                a.state.wake.notify_one();
            }
        }
        FeedEvent::Notified { .. } => a.state.wake.notify_one(),
    })?;
    let (a, last_full) = (authn.clone(), Mutex::new(Instant::now()));
    shared::skeleton::every_or_woken(
        "credential refresh",
        config.credential_poll,
        authn.state.wake.clone(),
        move || {
            let mode = if a.state.take_reset_due() {
                Refresh::Reset
            } else {
                let mut last_full = last_full.lock().unwrap_or_else(|p| p.into_inner());
                if last_full.elapsed() >= FULL_RELOAD_EVERY {
                    *last_full = Instant::now();
                    Refresh::Full
                } else {
                    Refresh::Changes
                }
            };
            let result = a.state.refresh(&a.db, now_micros(), mode);
            if result.is_err() && mode == Refresh::Reset {
                // Still due: the next run (after the loop's pause) tries the reset again.
                a.state.request_reset();
            }
            result
        },
    );
    let webhook_metrics = WebhookMetrics::register(service.metrics());
    let worker = Worker::new(service.db().clone(), hooks.clone(), webhook_metrics)?;
    // With a LISTEN connection a commit wakes the worker at once; the poll is the backstop.
    let poll = if config.database_listen_url.is_some() {
        config.webhooks.poll.max(Duration::from_secs(1))
    } else {
        config.webhooks.poll
    };
    worker.start(poll);
    let a = authn.clone();
    shared::skeleton::every("writing last_used_at", config.last_used_flush, move || {
        a.state.flush_last_used(&a.db)
    });
    let a = authn.clone();
    service.at_shutdown("writing last_used_at", move || {
        a.state.flush_last_used(&a.db)
    });
    let (a, b, jwks_refresh) = (authn.clone(), authn.clone(), config.jwks_refresh);
    shared::skeleton::every_async(
        "JWKS refresh",
        move || {
            if a.jwks.has_keys() {
                jwks_refresh
            } else {
                JWKS_RETRY
            }
        },
        move || {
            let b = b.clone();
            async move { b.jwks.refresh().await }
        },
    );
    Ok(())
}
