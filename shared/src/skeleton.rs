//! What both services register and run the same way, so that they are built alike.
//! [`ServiceBuilder`] is the one path from [`Common`] to a running server: it connects the
//! database, opens `REDIS_URL` (and decides, for each limiter or throttle, local or shared:
//! [`ServiceBuilder::share`]), listens to the change feed, registers the database, metrics and
//! `TRUSTED_PROXIES` as app data, the HTTP edge ([`crate::http::edge`]), `/metrics` on the
//! main port or on `METRICS_BIND`, wraps the one middleware chain, starts the HTTP server
//! itself with its connection step ([`serve`]: the PROXY protocol from trusted balancers) and
//! runs the shutdown work. Background loops ([`every`], [`every_or_woken`], [`every_async`])
//! share one driver. A service's `startup.rs` only adds what is its own.

use std::fmt::{self, Display};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive, Protocol, Request, Response};
use actix_server::ServerBuilder;
use actix_service::{
    fn_service, map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _,
};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};
use tokio::sync::Notify;

use crate::changes::FeedEvent;
use crate::client_addr::TrustedProxies;
use crate::config::Common;
use crate::db::Db;
use crate::metrics::{self, Metrics};
use crate::redis_store::RedisStore;

/// Work run on the blocking pool once the server has stopped (e.g. writing what is still
/// batched in memory), with what it is for the warning when it fails.
type ShutdownJob = (&'static str, Box<dyn FnOnce() -> Result<(), String> + Send>);

/// A service on its way to running: the database, the metrics, Redis when `REDIS_URL` is set,
/// and the listener, made from [`Common`] the same way for both services.
pub struct ServiceBuilder {
    name: &'static str,
    common: Common,
    listener: TcpListener,
    port: u16,
    db: Db,
    metrics: web::Data<Metrics>,
    redis: Option<Arc<RedisStore>>,
    at_shutdown: Vec<ShutdownJob>,
}

impl ServiceBuilder {
    /// Connects (and migrates) `DATABASE_URL` and, with `REDIS_URL`, opens Redis (which adds
    /// `redis_errors_total` to `metrics`). `name` is the program's name, for the log. Errors
    /// are one line naming the variable.
    pub fn new(
        name: &'static str,
        common: &Common,
        listener: TcpListener,
        metrics: Metrics,
    ) -> Result<ServiceBuilder, String> {
        let db = Db::connect(&common.database_url, common.db_pool_size)
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        let (metrics, redis) = match &common.redis_url {
            Some(url) => {
                let metrics = metrics.with_redis_errors();
                let store = RedisStore::open(url, "caseforge:", metrics.redis_errors.clone())
                    .map_err(|e| format!("REDIS_URL: {e}"))?;
                tracing::info!("rate limits and failure throttles shared through redis");
                (metrics, Some(Arc::new(store)))
            }
            None => (metrics, None),
        };
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!("{name} on {addr} using {}", db.target().describe());
        Ok(ServiceBuilder {
            name,
            common: common.clone(),
            listener,
            port: addr.port(),
            db,
            metrics: web::Data::new(metrics),
            redis,
            at_shutdown: Vec::new(),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn metrics(&self) -> &web::Data<Metrics> {
        &self.metrics
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `local` as it is without `REDIS_URL`; with it, what `share` makes of it and the store
    /// (every limiter and throttle is decided here, the same way).
    pub fn share<T>(&self, local: T, share: impl FnOnce(T, Arc<RedisStore>) -> T) -> T {
        match &self.redis {
            Some(store) => share(local, store.clone()),
            None => local,
        }
    }

    /// With `DATABASE_LISTEN_URL`, listens to the credential change feed and hands every event
    /// to `on_event` (on the listening thread); without it, nothing. Errors name the variable.
    pub fn on_change_feed(
        &self,
        on_event: impl Fn(FeedEvent) + Send + Sync + 'static,
    ) -> Result<(), String> {
        match self.common.database_listen_url.clone() {
            Some(url) => crate::changes::listen(url, Arc::new(on_event))
                .map_err(|e| format!("DATABASE_LISTEN_URL: {e}")),
            None => Ok(()),
        }
    }

    /// Runs `job` on the blocking pool after the server stops (in the order added); a failure
    /// is logged as a warning naming `what`.
    pub fn at_shutdown<T, E: Display>(
        &mut self,
        what: &'static str,
        job: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) {
        self.at_shutdown.push((
            what,
            Box::new(move || job().map(|_| ()).map_err(|e| e.to_string())),
        ));
    }

    /// Starts the HTTP server (and the `METRICS_BIND` one). Every `App` gets the
    /// [`Skeleton`]'s app data and routes, then what `configure` registers (the service's own
    /// app data and routes), inside the one middleware chain, with the envelope's 404 for any
    /// other path.
    pub fn serve<F>(self, configure: F) -> Result<RunningService, String>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let common = self.common;
        let (skeleton, metrics_server) = Skeleton::new(
            &self.db,
            self.metrics,
            common.metrics_bind,
            &common.trusted_proxies,
        )?;
        let cors_origins = common.cors_allowed_origins.clone();
        let server = serve(
            self.listener,
            &common.trusted_proxies,
            max_blocking_threads(common.db_pool_size),
            move || {
                App::new()
                    .configure(|cfg| skeleton.configure(cfg))
                    // Innermost first: CORS answers preflights before any route (and before
                    // the resource API's `/v2` authentication), and its answers still get the
                    // envelope; the request span puts the id on the response before the
                    // envelope rewrite copies headers.
                    .wrap(crate::cors::middleware(&cors_origins))
                    .wrap(from_fn(crate::http::no_store_under_private_prefixes))
                    .wrap(from_fn(crate::telemetry::request_span))
                    .wrap(crate::http::envelope_errors())
                    .wrap(from_fn(metrics::record))
                    .configure(configure.clone())
                    .default_service(web::to(crate::http::not_found))
            },
        )
        .map_err(|e| format!("{}: {e}", self.name))?;
        Ok(RunningService {
            port: self.port,
            server,
            metrics_server,
            db: self.db,
            at_shutdown: self.at_shutdown,
        })
    }
}

/// A built service: its server, the `METRICS_BIND` server if any, and what runs at shutdown.
pub struct RunningService {
    port: u16,
    server: Server,
    /// With `METRICS_BIND`: the server that alone answers `/metrics`, and its port.
    metrics_server: Option<(u16, Server)>,
    db: Db,
    at_shutdown: Vec<ShutdownJob>,
}

impl RunningService {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until stopped (a signal), stops the metrics server, then runs the shutdown work.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = metrics::run_beside(self.server, self.metrics_server.map(|(_, s)| s)).await;
        let jobs = self.at_shutdown;
        let _ = web::block(move || {
            for (what, job) in jobs {
                if let Err(e) = job() {
                    tracing::warn!("{what} failed at shutdown: {e}");
                }
            }
        })
        .await;
        result
    }
}

/// The shared part of a service's `App`; see [`Skeleton::configure`].
#[derive(Clone)]
pub struct Skeleton {
    db: web::Data<Db>,
    metrics: web::Data<Metrics>,
    trusted_proxies: web::Data<TrustedProxies>,
    metrics_on_main_port: bool,
}

impl Skeleton {
    /// With `metrics_bind`, also binds the separate metrics server (returned with its port,
    /// to be run by [`metrics::run_beside`]); errors name `METRICS_BIND`.
    #[allow(clippy::type_complexity)]
    pub fn new(
        db: &Db,
        metrics: web::Data<Metrics>,
        metrics_bind: Option<SocketAddr>,
        trusted_proxies: &TrustedProxies,
    ) -> Result<(Skeleton, Option<(u16, Server)>), String> {
        let db = web::Data::new(db.clone());
        let metrics_server = metrics::separate_server(metrics_bind, metrics.clone(), db.clone())?;
        if !trusted_proxies.is_empty() {
            tracing::info!(
                "clients behind the proxies in {trusted_proxies} are read from X-Forwarded-For \
                 or the PROXY protocol"
            );
        }
        Ok((
            Skeleton {
                db,
                metrics,
                trusted_proxies: web::Data::new(trusted_proxies.clone()),
                metrics_on_main_port: metrics_server.is_none(),
            },
            metrics_server,
        ))
    }

    /// For `App::configure`: the database, the metrics and `TRUSTED_PROXIES` (read by
    /// [`crate::client_addr::client_ip`]) as app data, the extractor configurations of
    /// [`crate::http::edge`], and `GET /metrics` unless `METRICS_BIND` moved it.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.db.clone())
            .app_data(self.metrics.clone())
            .app_data(self.trusted_proxies.clone());
        crate::http::edge(cfg);
        if self.metrics_on_main_port {
            metrics::route(cfg);
        }
    }
}

/// The HTTP server of a service: actix-web's `HttpServer::listen` on `listener`, as it builds
/// it (HTTP/1.1, its default timeouts and keep-alive, graceful shutdown, one worker per core),
/// with one step added before HTTP: a connection from a peer in `trusted_proxies` may start
/// with a PROXY protocol v2 header, whose source address then stands in for the peer
/// ([`crate::proxy_protocol`]). A malformed header, or none and no request within the time
/// limit, closes the connection. `HttpServer` has no hook before the HTTP parser, hence this
/// copy of its assembly; everything else about the server is unchanged but one setting: a
/// half-closed connection counts as gone (see below).
pub fn serve<F, I, S, B>(
    listener: std::net::TcpListener,
    trusted_proxies: &TrustedProxies,
    max_blocking_threads: usize,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let builder = ServerBuilder::default().worker_max_blocking_threads(max_blocking_threads);
    let shutdown = builder.graceful_shutdown_signal();
    let trusted = Arc::new(trusted_proxies.clone());
    let builder = builder.listen(format!("caseforge-{addr}"), listener, move || {
        let shutdown = shutdown.clone();
        let app = factory()
            .into_factory()
            .map_err(|e| e.into().error_response());
        // `HttpServer`'s defaults, spelled out.
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .keep_alive(KeepAlive::default())
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            // A client that closes its end has gone away: its request's future is dropped
            // (a screen's scoring stops) rather than run to an answer nobody reads. Nothing
            // here expects a client to half-close and still wait for the answer.
            .h1_allow_half_closed(false)
            .local_addr(addr)
            // `HttpServer` names the listen address as the default host; only URL generation
            // and `ConnectionInfo` without a `Host` header read it, and neither service does.
            .finish(map_config(app, move |_| AppConfig::default()));
        let trusted = trusted.clone();
        fn_service(move |io: TcpStream| {
            let trusted = trusted.clone();
            async move { accept(io, &trusted).await }
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// The connection step of [`serve`]: the peer address HTTP is served with.
async fn accept(
    mut io: TcpStream,
    trusted: &TrustedProxies,
) -> Result<(TcpStream, Protocol, Option<SocketAddr>), DispatchError> {
    let peer = io.peer_addr().ok();
    let Some(from) = peer.filter(|p| trusted.contains(p.ip())) else {
        return Ok((io, Protocol::Http1, peer));
    };
    match crate::proxy_protocol::source_of_within(&mut io).await {
        Ok(source) => Ok((io, Protocol::Http1, source.or(peer))),
        Err(e) => {
            // A malformed header from a balancer is a misconfiguration worth seeing; one that
            // went quiet or hung up is what idle connections do.
            if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::UnexpectedEof
            ) {
                tracing::debug!("closing a connection from trusted proxy {from}: {e}");
            } else {
                tracing::warn!("closing a connection from trusted proxy {from}: {e}");
            }
            Err(DispatchError::Io(e))
        }
    }
}

/// The bound on each HTTP worker's blocking threads: the database pool plus room for the
/// bounded bcrypt work beside it. Blocking tasks beyond it wait in a queue instead of each
/// getting a thread (actix's default allows 512 per process): a load spike cannot grow the
/// thread count or the memory their stacks take, and no more tasks than there are connections
/// could run a query at once anyway.
pub fn max_blocking_threads(db_pool_size: u32) -> usize {
    db_pool_size as usize + 4
}

/// After a failed run, a loop waits at least this long before the next, even when woken: a job
/// that asks to be woken again when it fails (a reset still due) does not spin.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_millis(200);

/// Runs `job` on the blocking pool every `period`, the first time one period from now, for as
/// long as the actix system runs. A failure is logged as a warning naming `what`, and the
/// next tick tries again: what was loaded before keeps serving.
pub fn every<F, T, E>(what: &'static str, period: Duration, job: F)
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    spawn_loop(what, move || period, None, blocking(job));
}

/// As [`every`], and also at once whenever `wake` is notified (a change-feed notification):
/// the period is the backstop.
pub fn every_or_woken<F, T, E>(what: &'static str, period: Duration, wake: Arc<Notify>, job: F)
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    spawn_loop(what, move || period, Some(wake), blocking(job));
}

/// An async `job` (network work, not blocking), run after waiting what `wait` says each time
/// (so that a loop can retry sooner while it has nothing loaded).
pub fn every_async<W, F, Fut, T, E>(what: &'static str, wait: W, job: F)
where
    W: Fn() -> Duration + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
    E: Display + 'static,
{
    spawn_loop(what, wait, None, move || {
        let run = job();
        async move { run.await.map(|_| ()).map_err(|e| e.to_string()) }
    });
}

/// As [`every_async`], and also at once whenever `wake` is notified.
pub fn every_async_or_woken<W, F, Fut, T, E>(what: &'static str, wait: W, wake: Arc<Notify>, job: F)
where
    W: Fn() -> Duration + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
    E: Display + 'static,
{
    spawn_loop(what, wait, Some(wake), move || {
        let run = job();
        async move { run.await.map(|_| ()).map_err(|e| e.to_string()) }
    });
}

/// A blocking job as one run of a loop: on the blocking pool, its error as text.
fn blocking<F, T, E>(
    job: F,
) -> impl Fn() -> futures_util::future::LocalBoxFuture<'static, Result<(), String>>
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    let job = Arc::new(job);
    move || {
        let job = job.clone();
        Box::pin(async move {
            match web::block(move || job()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("cancelled".to_owned()),
            }
        })
    }
}

/// The one loop driver: wait (`wait()`, or until woken), run, log a failure and go on.
fn spawn_loop<W, R, Fut>(what: &'static str, wait: W, wake: Option<Arc<Notify>>, run: R)
where
    W: Fn() -> Duration + 'static,
    R: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<(), String>> + 'static,
{
    actix_web::rt::spawn(async move {
        loop {
            let sleep = actix_web::rt::time::sleep(wait());
            match &wake {
                Some(wake) => {
                    tokio::select! {
                        _ = sleep => {}
                        _ = wake.notified() => {}
                    }
                }
                None => sleep.await,
            }
            if let Err(e) = run().await {
                tracing::warn!("{what} failed (keeping the state already loaded): {e}");
                actix_web::rt::time::sleep(PAUSE_AFTER_FAILURE).await;
            }
        }
    });
}
