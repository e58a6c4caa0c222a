//! What both services register and run the same way, so that they are built alike: the
//! database, metrics and `TRUSTED_PROXIES` as app data, the HTTP edge
//! ([`crate::http::edge`]), `/metrics` on the main port or on `METRICS_BIND`, the HTTP server
//! itself with its connection step ([`serve`]: the PROXY protocol from trusted balancers), and
//! background loops on the blocking pool.

use std::fmt::{self, Display};
use std::net::SocketAddr;
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
use actix_web::rt::net::TcpStream;
use actix_web::web;

use crate::client_addr::TrustedProxies;
use crate::db::Db;
use crate::metrics::{self, Metrics};

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

/// Runs `job` on the blocking pool every `period`, the first time one period from now, for as
/// long as the actix system runs. A failure is logged as a warning naming `what`, and the
/// next tick tries again: what was loaded before keeps serving.
pub fn every<F, T, E>(what: &'static str, period: Duration, job: F)
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    let job = Arc::new(job);
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(period);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let job = job.clone();
            match web::block(move || job()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!("{what} failed (keeping the state already loaded): {e}")
                }
                Err(_) => tracing::warn!("{what} was cancelled"),
            }
        }
    });
}
