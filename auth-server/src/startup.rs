//! Building the server: keys, app state, background work. The one place routes and app data
//! are registered. What both services share (database, Redis, metrics, the middleware chain,
//! the server itself) comes from [`shared::skeleton::ServiceBuilder`]. Binds a `TcpListener`
//! so tests can use port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use shared::changes::{ChangeKind, FeedEvent};
use shared::db::Db;
use shared::ratelimit::Limiter;
use shared::routing::Endpoint;
use shared::skeleton::{RunningService, ServiceBuilder};
use shared::throttle::FailureThrottle;

use crate::db::revoked_tokens::RevokedTokenRow;
use crate::routes::{admin, health, oauth, well_known, AppState};
use crate::service::audit::{self, AuditAggregator};
use crate::service::client_auth::ClientAuthenticator;
use crate::service::last_token::LastTokenTracker;
use crate::service::now_micros;
use crate::service::operators::Operators;
use crate::service::signing::{KekRing, KeyStore};
use crate::Config;

/// Wrong admin tokens tolerated per source address in a burst, and how often one comes back.
const ADMIN_FAILURE_BURST: u32 = 10;
const ADMIN_FAILURE_REFILL: Duration = Duration::from_secs(6);
/// How often ended console sessions are deleted.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// Credential changes are kept this long; a replica away longer reloads in full.
const CHANGE_FEED_RETENTION_US: i64 = 3_600_000_000;

pub struct Application {
    service: RunningService,
    /// The refused attempts not yet written to the audit trail.
    refusals: Arc<AuditAggregator>,
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
        let metrics = shared::metrics::Metrics::new(
            "caseforge_auth",
            "auth-server",
            env!("CARGO_PKG_VERSION"),
        )
        .with_tokens_issued();
        let mut service = ServiceBuilder::new("auth-server", &config.common, listener, metrics)?;
        let db = service.db().clone();
        let keys = Arc::new(
            KeyStore::load_or_create(&db, &keks, now_micros())
                .map_err(|e| format!("signing keys: {e}"))?,
        );
        spawn_background(&mut service, &config, &keys)?;
        // `last_token_at` is written in batches, never per token (service::last_token).
        let last_tokens = Arc::new(LastTokenTracker::new());
        let tracker = last_tokens.clone();
        shared::skeleton::every(
            "writing last_token_at",
            Duration::from_secs(config.last_used_flush_secs.max(1)),
            move || tracker.flush(&db),
        );
        // Refused attempts reach the audit trail as one event per key and window
        // (service::audit::AuditAggregator), written every window and at shutdown.
        let audit_key = keks.audit_keys().current;
        let refusals = Arc::new(AuditAggregator::new(audit_key.clone(), audit::REFUSAL_KEYS));
        let (db, aggregator) = (service.db().clone(), refusals.clone());
        shared::skeleton::every(
            "writing refused attempts to the audit trail",
            audit::REFUSAL_WINDOW,
            move || aggregator.flush(&db, now_micros()),
        );
        let (db, tracker) = (service.db().clone(), last_tokens.clone());
        service.at_shutdown("writing last_token_at", move || tracker.flush(&db));
        let (db, aggregator) = (service.db().clone(), refusals.clone());
        service.at_shutdown("writing refused attempts to the audit trail", move || {
            aggregator.flush(&db, now_micros())
        });
        let openapi = web::Data::new(crate::openapi::document(&config.issuer));
        let state = web::Data::new(AppState {
            clients: service.share(
                ClientAuthenticator::new(config.bcrypt_cost, config.bcrypt_concurrency),
                |clients, store| clients.with_shared_throttle(store),
            ),
            assertions: crate::service::assertions::ClientAssertions::new(service.share(
                shared::replay::ReplayGuard::new(service.db().clone()),
                |guard, store| guard.shared(store),
            )),
            nonces: config
                .common
                .dpop_nonce_key
                .as_ref()
                .map(shared::dpop::Nonces::new),
            issuance: service.share(Limiter::local(), |_, store| {
                Limiter::shared("issuance", store)
            }),
            admin_failures: service.share(
                FailureThrottle::new(ADMIN_FAILURE_BURST, ADMIN_FAILURE_REFILL, 100_000),
                |throttle, store| throttle.shared("admin", store),
            ),
            operators: service.share(
                Operators::new(
                    config.console.operator_bcrypt_cost,
                    config.signing_key_encryption_key.clone(),
                )
                .with_previous_kek(config.previous_signing_key_encryption_key.clone())
                .with_metrics(service.metrics()),
                |operators, store| operators.with_shared_throttle(store),
            ),
            db: service.db().clone(),
            config,
            keys,
            last_tokens,
            audit_key,
            refusals: refusals.clone(),
        });
        let service = service.serve(move |cfg| {
            cfg.app_data(state.clone())
                .app_data(openapi.clone())
                .configure(routes);
        })?;
        Ok(Application { service, refusals })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The port `/metrics` is served on when `METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.service.metrics_port()
    }

    /// The refused attempts waiting for the audit trail (tests flush them at once).
    pub fn refusals(&self) -> Arc<AuditAggregator> {
        self.refusals.clone()
    }

    /// Serves until stopped, then writes the `last_token_at` notes and the refused attempts
    /// still in memory.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.service.run_until_stopped().await
    }
}

/// The signing-key refresh (every `SIGNING_KEY_REFRESH_SECS`, and at once on a signing-key
/// change in the feed), the purge of expired revocations and old change-feed entries (on the
/// same period, in its own job so that a failed key refresh never skips it: see
/// [`purge_expired`]) and the console session purge.
fn spawn_background(
    service: &mut ServiceBuilder,
    config: &Config,
    keys: &Arc<KeyStore>,
) -> Result<(), String> {
    let period = Duration::from_secs(config.key_refresh_secs.max(1));
    // A signing key added, retired or revoked by another replica or the CLI is loaded at once
    // (and in full after every reconnection); the period is the backstop.
    let wake = Arc::new(tokio::sync::Notify::new());
    let notify = wake.clone();
    service.on_change_feed(move |event| match event {
        FeedEvent::Connected
        | FeedEvent::Notified {
            kind: Some(ChangeKind::SigningKey) | None,
            ..
        } => notify.notify_one(),
        FeedEvent::Notified { .. } | FeedEvent::Outbox => {}
    })?;
    let (db, keys) = (service.db().clone(), keys.clone());
    shared::skeleton::every_or_woken("signing-key refresh", period, wake, move || {
        keys.refresh(&db, now_micros())
    });
    let db = service.db().clone();
    shared::skeleton::every("purging expired revocations", period, move || {
        purge_expired(&db, now_micros())
    });
    // Dead console sessions are refused when presented; this only keeps the table small.
    let (db, console) = (service.db().clone(), config.console.clone());
    shared::skeleton::every("console session purge", SESSION_PURGE_INTERVAL, move || {
        db.run_blocking(|c| crate::service::sessions::purge(c, &console, now_micros()))
            .map(|_| ())
    });
    Ok(())
}

/// Deletes revocations of tokens expired by `now` and change-feed entries older than the
/// retention. Its own job, independent of the signing keys: a key refresh that fails (a key
/// the KEK cannot open) must not let `revoked_tokens` grow.
pub fn purge_expired(db: &Db, now: i64) -> Result<(), shared::db::DbError> {
    db.run_blocking(move |c| {
        RevokedTokenRow::purge_expired(c, now)?;
        shared::replay::purge_expired(c, now)?;
        shared::changes::prune(c, now - CHANGE_FEED_RETENTION_US)
    })
    .map(|_| ())
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
