//! Prometheus metrics both services expose at `GET /metrics` (text format): requests and
//! latency by route and status, authentication failures by reason, rate-limit rejections,
//! database pool usage, the process (resident memory, CPU time, open file descriptors, start
//! time: `process_*`), a `caseforge_build_info{service,version} 1` gauge, and on the auth
//! server tokens issued. No family is registered where it could only ever show zero.
//!
//! Every label value comes from a closed set, so that `/metrics` keeps its size whatever
//! clients send: the route is the matched actix pattern (`/v2/cases/{id}`) or `unmatched`,
//! never a raw path; the method is one of the standard methods or `other`; the status is the
//! response code, which actix only produces from its own table.
//!
//! With `METRICS_BIND` set, [`separate_server`] serves `/metrics` on that address alone (e.g. an
//! internal interface) and the main port does not route it.

use std::net::{SocketAddr, TcpListener};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::db::Db;
use crate::routing::Endpoint;

/// The route label of every request that matched no registered path.
pub const UNMATCHED: &str = "unmatched";
/// The method label of every method outside the standard set.
pub const OTHER_METHOD: &str = "other";

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub tokens_issued: IntCounter,
    pub auth_failures: IntCounterVec,
    pub rate_limited: IntCounter,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    /// Redis calls that failed or timed out (registered only with `REDIS_URL`).
    pub redis_errors: IntCounter,
}

impl Metrics {
    /// Registers every metric under `namespace` (e.g. `caseforge_auth`), the process metrics
    /// and `caseforge_build_info{service, version}`. `tokens_issued` is registered only by
    /// [`Metrics::with_tokens_issued`].
    pub fn new(namespace: &str, service: &str, version: &str) -> Metrics {
        let registry = Registry::new();
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(namespace.to_owned());
        let requests = IntCounterVec::new(
            opts(
                "http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("invariant: static metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route and method.",
            )
            .namespace(namespace.to_owned())
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route", "method"],
        )
        .expect("invariant: static metric definition is valid");
        let tokens_issued =
            IntCounter::with_opts(opts("tokens_issued_total", "Access tokens issued."))
                .expect("invariant: static metric definition is valid");
        let auth_failures = IntCounterVec::new(
            opts("auth_failures_total", "Authentication failures by reason."),
            &["reason"],
        )
        .expect("invariant: static metric definition is valid");
        let rate_limited =
            IntCounter::with_opts(opts("rate_limited_total", "Requests refused with 429."))
                .expect("invariant: static metric definition is valid");
        let pool_connections =
            IntGauge::with_opts(opts("db_pool_connections", "Open database connections."))
                .expect("invariant: static metric definition is valid");
        let pool_idle = IntGauge::with_opts(opts(
            "db_pool_idle_connections",
            "Idle database connections.",
        ))
        .expect("invariant: static metric definition is valid");
        let build_info = IntGauge::with_opts(
            Opts::new(
                "caseforge_build_info",
                "Always 1; the labels name the service and its version.",
            )
            .const_label("service", service)
            .const_label("version", version),
        )
        .expect("invariant: static metric definition is valid");
        build_info.set(1);
        let redis_errors = IntCounter::with_opts(opts(
            "redis_errors_total",
            "Redis calls that failed or timed out; each was answered with this replica's own limits.",
        ))
        .expect("invariant: static metric definition is valid");
        for c in [
            Box::new(requests.clone()) as Box<dyn Collector>,
            Box::new(latency.clone()),
            Box::new(build_info),
            Box::new(auth_failures.clone()),
            Box::new(rate_limited.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
        ] {
            registry
                .register(c)
                .expect("invariant: each metric is registered once");
        }
        // `process_*` (Linux: read from /proc/self); elsewhere the collector reports nothing.
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("invariant: the process collector is registered once");
        Metrics {
            registry,
            requests,
            latency,
            tokens_issued,
            auth_failures,
            rate_limited,
            pool_connections,
            pool_idle,
            redis_errors,
        }
    }

    /// Registers `tokens_issued_total`: only a service that issues tokens shows it.
    pub fn with_tokens_issued(self) -> Metrics {
        self.registry
            .register(Box::new(self.tokens_issued.clone()))
            .expect("invariant: tokens_issued is registered once");
        self
    }

    /// Registers `redis_errors_total`: only a service with `REDIS_URL` shows it.
    pub fn with_redis_errors(self) -> Metrics {
        self.registry
            .register(Box::new(self.redis_errors.clone()))
            .expect("invariant: redis_errors is registered once");
        self
    }

    /// Registers a service's own metric (its name must carry the service's namespace, and its
    /// labels a closed set, like every other).
    pub fn register(&self, collector: Box<dyn Collector>) {
        self.registry
            .register(collector)
            .expect("invariant: each metric is registered once");
    }

    /// `reason` is a `&'static str` so that only a fixed string can become a label.
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures.with_label_values(&[reason]).inc();
    }

    /// The text exposition, with pool gauges read now.
    pub fn render(&self, db: &Db) -> String {
        let (connections, idle) = db.pool_state();
        self.pool_connections.set(i64::from(connections));
        self.pool_idle.set(i64::from(idle));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Middleware recording every request.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    let method = method_label(req.method());
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let status = res.status().as_u16().to_string();
        m.requests
            .with_label_values(&[route.as_str(), method, status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[route.as_str(), method])
            .observe(start.elapsed().as_secs_f64());
        if res.status().as_u16() == 429 {
            m.rate_limited.inc();
        }
    }
    Ok(res)
}

/// The method as a label: one of the methods the services know, else [`OTHER_METHOD`]. A
/// raw method is any token a client cares to send, and each would be a new time series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => OTHER_METHOD,
    }
}

/// Registers `GET /metrics` on a service's main port (without `METRICS_BIND`), answered only
/// to a client on the same host (loopback, after `TRUSTED_PROXIES` resolution): the main port
/// is the public one, and request counts per route, failure counts and the build are not for
/// anyone on the network. Anyone else gets 404, as if it were not there. A scraper on another
/// host uses `METRICS_BIND` (docs/SECURITY.md, actors).
pub fn route(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/metrics").get(main_port_handler));
}

async fn main_port_handler(
    req: actix_web::HttpRequest,
    metrics: web::Data<Metrics>,
    db: web::Data<Db>,
) -> HttpResponse {
    if !crate::client_addr::client_ip(&req).is_loopback() {
        return crate::http::not_found().await;
    }
    handler(metrics, db).await
}

/// The `METRICS_BIND` server, when the address is set: `/metrics` alone on its own
/// listener, one worker, in the same process as the service it reports on, with the port it
/// got (port 0 picks one). It ignores signals; [`run_beside`] stops it when the service's
/// server stops. Errors name the variable.
pub fn separate_server(
    addr: Option<SocketAddr>,
    metrics: web::Data<Metrics>,
    db: web::Data<Db>,
) -> Result<Option<(u16, Server)>, String> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let fail = |e: std::io::Error| format!("METRICS_BIND: cannot listen on {addr}: {e}");
    let listener = TcpListener::bind(addr).map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .app_data(db.clone())
            .configure(crate::http::edge)
            .wrap(crate::http::envelope_errors())
            .service(Endpoint::new("/metrics").get(handler))
            .default_service(web::to(crate::http::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(fail)?
    .run();
    tracing::info!("metrics on {local}");
    Ok(Some((local.port(), server)))
}

/// Runs the service's server and, when there is one, the metrics server beside it, until the
/// service's server stops (on a signal); then stops the metrics server too.
pub async fn run_beside(main: Server, metrics: Option<Server>) -> std::io::Result<()> {
    let metrics = metrics.map(|server| {
        let handle = server.handle();
        actix_web::rt::spawn(server);
        handle
    });
    let result = main.await;
    if let Some(handle) = metrics {
        handle.stop(true).await;
    }
    result
}

/// `GET /metrics`.
pub async fn handler(metrics: web::Data<Metrics>, db: web::Data<Db>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(metrics.render(&db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_a_closed_set() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        let odd = Method::from_bytes(b"XYZ123RANDOM").unwrap();
        assert_eq!(method_label(&odd), OTHER_METHOD);
        assert_eq!(method_label(&Method::TRACE), OTHER_METHOD);
    }
}
