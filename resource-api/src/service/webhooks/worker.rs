//! The webhook worker, one per replica: fans the outbox out to deliveries, leases due
//! deliveries and attempts each in its own task.
//!
//! - **Any replica delivers, none twice on purpose.** Fan-out and claims run in transactions
//!   that lock their rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL (replicas skip each
//!   other's rows instead of waiting) and mark them (`dispatched_at`; a lease on the delivery)
//!   with a conditional update, which also holds on SQLite's single writer. A replica killed
//!   mid-attempt leaves a lease that runs out (`WEBHOOK_TIMEOUT_SECS` + 5 s), then another
//!   attempts it: at least once, with the same `webhook-id`.
//! - **Woken, not just polled.** On PostgreSQL the outbox insert's `NOTIFY` wakes every
//!   replica's worker when the change commits; the poll (`WebhookConfig::poll`, 200 ms; 1 s
//!   with a LISTEN connection) is the backstop and the only path on SQLite.
//! - **One slow endpoint delays no other.** Each attempt is its own task; at most
//!   `concurrency` run at once per replica and at most `per_endpoint` for one endpoint (an
//!   endpoint at its bound is left out of the next claims), so a dead endpoint holds at most
//!   that many slots for at most `WEBHOOK_TIMEOUT_SECS`.
//! - **The receiver cannot lead us anywhere.** No redirects, no proxy, names resolved through
//!   [`CheckedResolver`] and IP literals checked (see [`super::target`]); the answer's body is
//!   read up to 4 KiB and 256 characters of it kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{Gauge, IntCounterVec, IntGauge, Opts};
use shared::db::{Db, DbError};
use tokio::sync::Semaphore;

use super::signing::{signature_header, EndpointSecret};
use super::target::{forbidden, ip_host, CheckedResolver};
use super::{attempt_entry, Webhooks};
use crate::db::webhooks::{self, AttemptRecord, Claimed};
use crate::domain::values::DeliveryStatus;
use crate::service::now_micros;

/// An endpoint failing without a success for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 86_400);
/// How much of an answer's body is read, and how much of it is kept.
pub const BODY_READ_LIMIT: usize = 4096;
pub const EXCERPT_LEN: usize = 256;
/// A lease outlasts the attempt's timeout by this much (the time to record its outcome); a
/// replica killed mid-attempt delays that delivery by at most `WEBHOOK_TIMEOUT_SECS` + this.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Events fanned out per transaction.
const FAN_OUT_BATCH: i64 = 500;

/// The worker's metrics (closed label sets: `outcome` ∈ succeeded | retrying | failed;
/// `result` ∈ 2xx | 3xx | 4xx | 5xx | error).
#[derive(Clone)]
pub struct WebhookMetrics {
    deliveries: IntCounterVec,
    attempts: IntCounterVec,
    outbox_depth: IntGauge,
    oldest_age: Gauge,
}

impl WebhookMetrics {
    pub fn register(metrics: &shared::metrics::Metrics) -> WebhookMetrics {
        let opts = |n: &str, h: &str| Opts::new(n, h).namespace("caseforge_api");
        let m = WebhookMetrics {
            deliveries: IntCounterVec::new(
                opts(
                    "webhook_deliveries_total",
                    "Webhook delivery attempts by what they left the delivery as: succeeded, retrying (pending again) or failed (schedule used up).",
                ),
                &["outcome"],
            )
            .expect("invariant: static metric definition is valid"),
            attempts: IntCounterVec::new(
                opts(
                    "webhook_attempts_total",
                    "Webhook HTTP attempts by result: the answer's status class, or error (no answer: timeout, refused address, connection).",
                ),
                &["result"],
            )
            .expect("invariant: static metric definition is valid"),
            outbox_depth: IntGauge::with_opts(opts(
                "webhook_outbox_depth",
                "Webhook events not yet fanned out plus deliveries still pending.",
            ))
            .expect("invariant: static metric definition is valid"),
            oldest_age: Gauge::with_opts(opts(
                "webhook_outbox_oldest_age_seconds",
                "Age of the oldest event not yet fanned out or delivery still pending (0 when none).",
            ))
            .expect("invariant: static metric definition is valid"),
        };
        metrics.register(Box::new(m.deliveries.clone()));
        metrics.register(Box::new(m.attempts.clone()));
        metrics.register(Box::new(m.outbox_depth.clone()));
        metrics.register(Box::new(m.oldest_age.clone()));
        m
    }
}

pub struct Worker {
    db: Db,
    hooks: Arc<Webhooks>,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
    in_flight: Mutex<HashMap<String, usize>>,
    metrics: WebhookMetrics,
}

impl Worker {
    pub fn new(
        db: Db,
        hooks: Arc<Webhooks>,
        metrics: WebhookMetrics,
    ) -> Result<Arc<Worker>, String> {
        let c = &hooks.config;
        let http = shared::outbound::builder(c.timeout)
            .no_proxy()
            .user_agent(concat!("CaseForge-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(CheckedResolver {
                allow_private: c.settings.allow_private_targets,
            }))
            .build()
            .map_err(|e| format!("webhook client: {}", shared::outbound::error_chain(&e)))?;
        Ok(Arc::new(Worker {
            slots: Arc::new(Semaphore::new(c.concurrency)),
            db,
            http,
            in_flight: Mutex::new(HashMap::new()),
            metrics,
            hooks,
        }))
    }

    /// Starts the delivery loop (`poll`, or at once when woken), the outbox gauges (every 5 s)
    /// and the retention prune (every 10 minutes).
    pub fn start(self: &Arc<Worker>, poll: Duration) {
        let (w, wake) = (self.clone(), self.hooks.wake.clone());
        shared::skeleton::every_async_or_woken(
            "webhook delivery",
            move || poll,
            wake,
            move || {
                let w = w.clone();
                async move { w.tick().await }
            },
        );
        let w = self.clone();
        shared::skeleton::every("webhook outbox gauges", Duration::from_secs(5), move || {
            w.update_gauges()
        });
        let (db, retention) = (self.db.clone(), self.hooks.config.retention);
        shared::skeleton::every(
            "pruning webhook events and deliveries",
            Duration::from_secs(600),
            move || prune(&db, now_micros(), retention),
        );
    }

    fn update_gauges(&self) -> Result<(), DbError> {
        let (depth, oldest) = self.db.run_blocking(webhooks::outbox_stats)?;
        self.metrics.outbox_depth.set(depth);
        let age = oldest.map_or(0.0, |t| (now_micros() - t).max(0) as f64 / 1e6);
        self.metrics.oldest_age.set(age);
        Ok(())
    }

    /// One round: fan out what the outbox holds, then lease and start as many due deliveries
    /// as there are free slots.
    pub async fn tick(self: Arc<Worker>) -> Result<(), DbError> {
        loop {
            let now = now_micros();
            let n = self
                .db
                .transaction(move |c| {
                    webhooks::fan_out(c, now, FAN_OUT_BATCH).map_err(DbError::Query)
                })
                .await?;
            if (n as i64) < FAN_OUT_BATCH {
                break;
            }
        }
        loop {
            let free = self.slots.available_permits().min(256);
            if free == 0 {
                return Ok(());
            }
            let busy = self.saturated();
            let now = now_micros();
            let lease = now + (self.hooks.config.timeout + LEASE_MARGIN).as_micros() as i64;
            let claimed = self
                .db
                .transaction(move |c| {
                    webhooks::claim(c, now, lease, free as i64, &busy).map_err(DbError::Query)
                })
                .await?;
            let n = claimed.len();
            for job in claimed {
                self.start_attempt(job);
            }
            if n < free {
                return Ok(());
            }
        }
    }

    /// Endpoints with `per_endpoint` attempts in flight here.
    fn saturated(&self) -> Vec<String> {
        let max = self.hooks.config.per_endpoint;
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, n)| **n >= max)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn start_attempt(self: &Arc<Worker>, job: Claimed) {
        let endpoint_id = job.endpoint.id.clone();
        *self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(endpoint_id.clone())
            .or_default() += 1;
        let done = InFlight {
            worker: self.clone(),
            endpoint_id,
        };
        actix_web::rt::spawn(async move {
            let slot = done.worker.slots.clone().acquire_owned().await;
            done.worker.attempt(job).await;
            drop(slot);
            drop(done);
        });
    }

    async fn attempt(&self, job: Claimed) {
        let at = now_micros();
        let started = Instant::now();
        let result = self.send(&job).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        let (status, error, excerpt) = match &result {
            Ok((s, body)) => (Some(i32::from(*s)), None, Some(body.clone())),
            Err(e) => (None, Some(e.clone()), None),
        };
        let success = status.is_some_and(|s| (200..300).contains(&s));
        self.metrics
            .attempts
            .with_label_values(&[match status {
                Some(200..=299) => "2xx",
                Some(300..=399) => "3xx",
                Some(400..=499) => "4xx",
                Some(_) => "5xx",
                None => "error",
            }])
            .inc();
        let schedule = &self.hooks.config.retry_schedule;
        let attempts = job.delivery.attempts.max(0) as usize + 1;
        let (next_status, next_at) = if success {
            (DeliveryStatus::Succeeded, None)
        } else if attempts <= schedule.len() {
            let wait = schedule[attempts - 1].as_micros() as i64;
            (DeliveryStatus::Pending, Some(at + wait))
        } else {
            (DeliveryStatus::Failed, None)
        };
        self.metrics
            .deliveries
            .with_label_values(&[match next_status {
                DeliveryStatus::Succeeded => "succeeded",
                DeliveryStatus::Pending => "retrying",
                DeliveryStatus::Failed => "failed",
            }])
            .inc();
        let record = AttemptRecord {
            delivery_id: job.delivery.id.clone(),
            endpoint_id: job.endpoint.id.clone(),
            at,
            success,
            response_status: status,
            log_entry: attempt_entry(at, status, error.as_deref(), duration_ms),
            error,
            duration_ms,
            response_excerpt: excerpt,
            status: next_status,
            next_attempt_at: next_at,
            disable_if_failing_since: at - DISABLE_AFTER.as_micros() as i64,
            disable_reason: "failed without a success for 5 days".to_owned(),
        };
        match self
            .db
            .transaction(move |c| webhooks::record_attempt(c, &record).map_err(DbError::Query))
            .await
        {
            Ok(true) => tracing::warn!(
                target: "audit",
                action = "webhook_endpoint.disabled",
                endpoint_id = %job.endpoint.id,
                environment = %job.endpoint.environment,
                "webhook endpoint disabled: it failed without a success for 5 days"
            ),
            Ok(false) => {}
            // The lease runs out and the attempt is made again (the same webhook-id).
            Err(e) => tracing::warn!(
                "webhook delivery {}: cannot record the attempt: {e}",
                job.delivery.id
            ),
        }
        if next_status == DeliveryStatus::Pending && next_at.is_some_and(|t| t <= now_micros()) {
            self.hooks.wake.notify_one();
        }
    }

    /// One HTTP attempt: the status and the first characters of the body, or why there was no
    /// answer.
    async fn send(&self, job: &Claimed) -> Result<(u16, String), String> {
        let secrets = self.secrets(job)?;
        let url = reqwest::Url::parse(&job.endpoint.url).map_err(|_| "invalid URL".to_owned())?;
        if !self.hooks.config.settings.allow_private_targets && ip_host(&url).is_some_and(forbidden)
        {
            return Err("the host is a non-public address; refused".to_owned());
        }
        let timestamp = now_micros() / 1_000_000;
        let msg_id = &job.delivery.event_id;
        let signature = signature_header(&secrets, msg_id, timestamp, &job.payload);
        let mut resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(job.payload.clone())
            .send()
            .await
            .map_err(|e| describe(e.without_url()))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while body.len() < BODY_READ_LIMIT {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) if status >= 300 || body.is_empty() => {
                    return Err(describe(e.without_url()))
                }
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(BODY_READ_LIMIT)]);
        Ok((status, text.chars().take(EXCERPT_LEN).collect()))
    }

    /// The current secret, and the previous one during a rotation's grace period.
    fn secrets(&self, job: &Claimed) -> Result<Vec<EndpointSecret>, String> {
        let e = &job.endpoint;
        let sealer = self
            .hooks
            .sealer_opt()
            .ok_or("WEBHOOK_SECRET_KEY is not set; cannot sign")?;
        let current = sealer
            .open(&e.id, &e.secret_sealed)
            .ok_or("the endpoint's secret does not open with WEBHOOK_SECRET_KEY")?;
        let mut secrets = vec![current];
        if let (Some(prev), Some(until)) = (&e.previous_secret_sealed, e.previous_secret_expires_at)
        {
            if until > now_micros() {
                secrets.extend(sealer.open(&e.id, prev));
            }
        }
        Ok(secrets)
    }
}

/// One attempt in flight for an endpoint: given back when the attempt's task ends, however it
/// ends (a panic included), and the loop woken (a slot is free: more may be due).
struct InFlight {
    worker: Arc<Worker>,
    endpoint_id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut in_flight = self
            .worker
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = in_flight.get_mut(&self.endpoint_id) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(&self.endpoint_id);
            }
        }
        drop(in_flight);
        self.worker.hooks.wake.notify_one();
    }
}

/// A transport error as stored: its causes, without the URL, cut to 300 characters.
fn describe(e: reqwest::Error) -> String {
    let text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        shared::outbound::error_chain(&e)
    };
    text.chars().take(300).collect()
}

/// Removes what is older than `retention`.
pub fn prune(db: &Db, now: i64, retention: Duration) -> Result<(usize, usize), DbError> {
    let before = now - retention.as_micros() as i64;
    db.run_blocking(move |c| webhooks::prune(c, before))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::webhooks::{WebhookDeliveryRow, WebhookEndpointRow};
    use crate::domain::values::EventType;

    fn job(hooks: &Webhooks, url: &str) -> Claimed {
        let secret = super::super::signing::EndpointSecret::generate();
        let sealed = hooks.sealer_opt().unwrap().seal("whe_1", &secret);
        Claimed {
            delivery: WebhookDeliveryRow {
                id: "dlv_1".into(),
                environment: "sandbox".into(),
                endpoint_id: "whe_1".into(),
                event_id: "msg_1".into(),
                event_type: EventType::CaseCreated,
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: Some(0),
                lease_until: None,
                last_attempt_at: None,
                last_response_status: None,
                last_error: None,
                last_duration_ms: None,
                response_excerpt: None,
                attempt_log: "[]".into(),
                created_at: 0,
                updated_at: 0,
            },
            endpoint: WebhookEndpointRow {
                id: "whe_1".into(),
                environment: "sandbox".into(),
                url: url.into(),
                description: String::new(),
                events: "[\"case.created\"]".into(),
                enabled: true,
                disabled_reason: None,
                secret_sealed: sealed,
                previous_secret_sealed: None,
                previous_secret_expires_at: None,
                failing_since: None,
                last_success_at: None,
                created_at: 0,
                updated_at: 0,
                version: 1,
                owner_id: None,
            },
            payload: "{}".into(),
        }
    }

    /// The rule is applied again at delivery, on the addresses the connection would use: an
    /// endpoint whose address is (or whose name now resolves to) a private one fails its
    /// attempt without any connection being made (DNS rebinding).
    #[actix_web::test]
    async fn a_private_target_fails_at_delivery_time_even_if_it_was_registered() {
        // A listener on loopback that would accept the connection if one were made.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 2).unwrap();
        let mut config = crate::Config::for_tests(test_db.url(), "http://127.0.0.1:1").webhooks;
        config.settings.allow_private_targets = false;
        let hooks = Arc::new(Webhooks::new(&config));
        let metrics = shared::metrics::Metrics::new("caseforge_api", "resource-api", "test");
        let worker = Worker::new(db, hooks.clone(), WebhookMetrics::register(&metrics)).unwrap();
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            let e = worker.send(&job(&hooks, &url)).await.unwrap_err();
            assert!(e.contains("non-public"), "{url}: {e}");
        }
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "a connection was made");

        // Allowed (development), the same name reaches the listener.
        config.settings.allow_private_targets = true;
        let open = Arc::new(Webhooks::new(&config));
        let test_db2 = shared::testing::TestDb::create();
        let db2 = Db::connect(test_db2.url(), 2).unwrap();
        let metrics2 = shared::metrics::Metrics::new("caseforge_api", "resource-api", "test");
        let worker = Worker::new(db2, open.clone(), WebhookMetrics::register(&metrics2)).unwrap();
        listener.set_nonblocking(false).unwrap();
        let accept = std::thread::spawn(move || listener.accept().map(|_| ()));
        let _ = worker
            .send(&job(&open, &format!("http://localhost:{port}/hook")))
            .await;
        assert!(accept.join().unwrap().is_ok());
    }
}
