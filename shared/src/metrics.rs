//! Prometheus metrics both services expose at `GET /metrics` (text format): requests and
//! latency by route and status, tokens issued, authentication failures by reason, rate-limit
//! rejections, and database pool usage.
//!
//! Route labels are actix match patterns (`/v2/cases/{id}`), never raw paths, so that label
//! cardinality stays bounded whatever clients send.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::db::Db;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub tokens_issued: IntCounter,
    pub auth_failures: IntCounterVec,
    pub rate_limited: IntCounter,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
}

impl Metrics {
    /// Registers every metric under `namespace` (e.g. `caseforge_auth`).
    pub fn new(namespace: &str) -> Metrics {
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
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(tokens_issued.clone()),
            Box::new(auth_failures.clone()),
            Box::new(rate_limited.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
        ] {
            registry
                .register(c)
                .expect("invariant: each metric is registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            tokens_issued,
            auth_failures,
            rate_limited,
            pool_connections,
            pool_idle,
        }
    }

    pub fn auth_failure(&self, reason: &str) {
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
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let status = res.status().as_u16().to_string();
        m.requests
            .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[route.as_str(), method.as_str()])
            .observe(start.elapsed().as_secs_f64());
        if res.status().as_u16() == 429 {
            m.rate_limited.inc();
        }
    }
    Ok(res)
}

/// `GET /metrics`.
pub async fn handler(metrics: web::Data<Metrics>, db: web::Data<Db>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(metrics.render(&db))
}
