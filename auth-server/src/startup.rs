//! Building the server: database, keys, routes, background refresh. The one place routes and
//! app data are registered. Binds a `TcpListener` so tests can use port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use shared::db::Db;

use crate::db::revoked_tokens::RevokedTokenRow;
use crate::routes::{admin, health, oauth, well_known, AppState};
use crate::service::client_auth::ClientAuthenticator;
use crate::service::now_micros;
use crate::service::signing::{KekRing, KeyStore};
use shared::ratelimit::InMemoryRateLimiter;
use shared::throttle::FailureThrottle;

/// Wrong admin tokens tolerated per source address in a burst, and how often one comes back.
const ADMIN_FAILURE_BURST: u32 = 10;
const ADMIN_FAILURE_REFILL: Duration = Duration::from_secs(6);
use crate::telemetry;
use crate::Config;

pub struct Application {
    port: u16,
    server: Server,
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
        let db = Db::connect(&config.database_url, config.db_pool_size)
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        let keys = Arc::new(
            KeyStore::load_or_create(&db, &keks, now_micros())
                .map_err(|e| format!("signing keys: {e}"))?,
        );
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        log::info!(
            "auth-server on {} using {}",
            listener.local_addr().map_err(|e| e.to_string())?,
            db.target().describe()
        );
        spawn_refresh(
            db.clone(),
            keys.clone(),
            Duration::from_secs(config.key_refresh_secs.max(1)),
        );
        let metrics = web::Data::new(shared::metrics::Metrics::new("caseforge_auth"));
        let db_data = web::Data::new(db.clone());
        let state = web::Data::new(AppState {
            clients: ClientAuthenticator::new(config.bcrypt_cost, config.bcrypt_concurrency),
            issuance: InMemoryRateLimiter::new(),
            admin_failures: FailureThrottle::new(
                ADMIN_FAILURE_BURST,
                ADMIN_FAILURE_REFILL,
                100_000,
            ),
            db,
            config,
            keys,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(db_data.clone())
                .configure(shared::http::edge)
                // Innermost first: the request id is on the response before the envelope
                // rewrite copies headers and before the access log (outermost) reads them.
                .wrap(from_fn(telemetry::request_id))
                .wrap(shared::http::envelope_errors())
                .wrap(telemetry::access_log())
                .wrap(from_fn(shared::metrics::record))
                .configure(routes)
                .default_service(web::to(shared::http::not_found))
        })
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Every route of the auth server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/openapi.json", web::get().to(health::openapi))
        .route("/metrics", web::get().to(shared::metrics::handler))
        .route("/oauth/token", web::post().to(oauth::token))
        .route("/oauth/introspect", web::post().to(oauth::introspect))
        .route("/oauth/revoke", web::post().to(oauth::revoke))
        .route("/.well-known/jwks.json", web::get().to(well_known::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(well_known::metadata),
        )
        .service(
            web::resource("/admin/applications")
                .route(web::get().to(admin::list_applications))
                .route(web::post().to(admin::create_application)),
        )
        .service(
            web::resource("/admin/applications/{client_id}")
                .route(web::get().to(admin::get_application))
                .route(web::patch().to(admin::patch_application))
                .route(web::delete().to(admin::delete_application)),
        )
        .route(
            "/admin/applications/{client_id}/rotate-secret",
            web::post().to(admin::rotate_secret),
        )
        .route(
            "/admin/applications/{client_id}/revoke-tokens",
            web::post().to(admin::revoke_tokens),
        )
        .service(
            web::resource("/admin/api-keys")
                .route(web::get().to(admin::list_api_keys))
                .route(web::post().to(admin::create_api_key)),
        )
        .service(
            web::resource("/admin/api-keys/{id}")
                .route(web::get().to(admin::get_api_key))
                .route(web::delete().to(admin::revoke_api_key)),
        );
}

/// Re-reads signing keys every `every` (so a rotation by the CLI or another replica is picked
/// up) and purges revocations of expired tokens.
fn spawn_refresh(db: Db, keys: Arc<KeyStore>, every: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let (db2, keys2) = (db.clone(), keys.clone());
            let result = web::block(move || {
                let now = now_micros();
                keys2.refresh(&db2, now)?;
                db2.run_blocking(move |c| RevokedTokenRow::purge_expired(c, now))
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            })
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    log::warn!("background refresh failed (serving the keys already loaded): {e}")
                }
                Err(_) => log::warn!("background refresh was cancelled"),
            }
        }
    });
}
