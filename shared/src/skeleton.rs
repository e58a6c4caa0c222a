//! What both services register and run the same way, so that they are built alike: the
//! database and metrics as app data, the HTTP edge ([`crate::http::edge`]), `/metrics` on the
//! main port or on `METRICS_BIND`, and background loops on the blocking pool.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;

use crate::db::Db;
use crate::metrics::{self, Metrics};

/// The shared part of a service's `App`; see [`Skeleton::configure`].
#[derive(Clone)]
pub struct Skeleton {
    db: web::Data<Db>,
    metrics: web::Data<Metrics>,
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
    ) -> Result<(Skeleton, Option<(u16, Server)>), String> {
        let db = web::Data::new(db.clone());
        let metrics_server = metrics::separate_server(metrics_bind, metrics.clone(), db.clone())?;
        Ok((
            Skeleton {
                db,
                metrics,
                metrics_on_main_port: metrics_server.is_none(),
            },
            metrics_server,
        ))
    }

    /// For `App::configure`: the database and the metrics as app data, the extractor
    /// configurations of [`crate::http::edge`], and `GET /metrics` unless `METRICS_BIND`
    /// moved it.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.db.clone()).app_data(self.metrics.clone());
        crate::http::edge(cfg);
        if self.metrics_on_main_port {
            metrics::route(cfg);
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
