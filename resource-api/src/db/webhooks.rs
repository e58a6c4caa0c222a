//! Webhook endpoints, the outbox (`webhook_events`) and the delivery log.
//!
//! Endpoints and deliveries are `/v2` records like the others: found, listed and changed only
//! through a [`Scoped`] environment (endpoints through [`versioned_row!`], deliveries through
//! [`listed!`]); the outbox insert stamps the writer's environment. The worker's queries
//! ([`fan_out`], [`claim`], [`record_attempt`], [`prune`], [`outbox_stats`]) are the named
//! exception: they serve every environment, and each keeps a delivery in its event's
//! environment (a delivery is made only for an endpoint of the event's environment).

use std::collections::HashMap;

use diesel::prelude::*;
use shared::db::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
use shared::db::DbConnection;

use super::{listed, versioned_row, Scoped};
use crate::domain::values::{DeliveryStatus, EventType};

/// The row is shared with the auth server's console (`shared::webhooks::endpoint`).
pub use shared::webhooks::endpoint::WebhookEndpointRow;

versioned_row!(
    WebhookEndpointRow,
    webhook_endpoints,
    name = "webhook endpoint",
    prefix = "whe",
    list = "webhook_endpoints"
);

/// One outbox row: an event as it will be sent.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_events)]
pub struct WebhookEventRow {
    pub id: String,
    pub environment: String,
    pub event_type: EventType,
    pub payload: String,
    pub created_at: i64,
    pub dispatched_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDeliveryRow {
    pub id: String,
    pub environment: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<i64>,
    pub lease_until: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_response_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub response_excerpt: Option<String>,
    /// JSON array of the last attempts (see `service::webhooks::Attempt`).
    pub attempt_log: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The deliveries of one endpoint, newest first.
#[derive(Debug, Clone)]
pub struct DeliveryFilters {
    pub endpoint_id: String,
}

listed!(
    WebhookDeliveryRow,
    webhook_deliveries,
    "webhook_deliveries",
    DeliveryFilters,
    created_at,
    desc,
    |scoped, f| {
        webhook_deliveries::table
            .filter(webhook_deliveries::environment.eq(scoped.env()))
            .filter(webhook_deliveries::endpoint_id.eq(f.endpoint_id.clone()))
            .into_boxed::<shared::db::Backend>()
    }
);

impl Scoped {
    /// Appends an event to the outbox in this environment, in the caller's transaction, and
    /// wakes the workers when it commits (PostgreSQL).
    pub fn insert_webhook_event(
        &self,
        c: &mut DbConnection,
        row: &WebhookEventRow,
    ) -> QueryResult<()> {
        let row = WebhookEventRow {
            environment: self.env().to_owned(),
            ..row.clone()
        };
        diesel::insert_into(webhook_events::table)
            .values(&row)
            .execute(c)?;
        shared::changes::notify_outbox(c)
    }

    /// Removes an endpoint (at `version`) and its delivery log; how many endpoints it removed.
    pub fn delete_webhook_endpoint(
        &self,
        c: &mut DbConnection,
        id: &str,
        version: i64,
    ) -> QueryResult<usize> {
        shared::webhooks::endpoint::delete(c, self.env(), id, version)
    }

    /// Delivery `id` of endpoint `endpoint_id` in this environment.
    pub fn find_delivery(
        &self,
        c: &mut DbConnection,
        endpoint_id: &str,
        id: &str,
    ) -> QueryResult<Option<WebhookDeliveryRow>> {
        webhook_deliveries::table
            .filter(webhook_deliveries::environment.eq(self.env()))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::id.eq(id))
            .select(WebhookDeliveryRow::as_select())
            .get_result(c)
            .optional()
    }

    /// Makes a delivery due now (a retry by hand), unless a replica holds it right now.
    pub fn retry_delivery(
        &self,
        c: &mut DbConnection,
        endpoint_id: &str,
        id: &str,
        now: i64,
    ) -> QueryResult<usize> {
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::environment.eq(self.env()))
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .filter(webhook_deliveries::id.eq(id))
                .filter(
                    webhook_deliveries::lease_until
                        .is_null()
                        .or(webhook_deliveries::lease_until.lt(now)),
                ),
        )
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending),
            webhook_deliveries::next_attempt_at.eq(Some(now)),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(c)
    }
}

/// Rows of `$query` locked for this transaction, skipping rows another transaction holds
/// (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never wait for nor take each other's
/// work); SQLite has one writer, whose transaction already excludes the others.
macro_rules! skip_locked {
    ($conn:expr, $query:expr, $ty:ty) => {
        match $conn {
            DbConnection::Pg(c) => $query.for_update().skip_locked().load::<$ty>(c),
            DbConnection::Sqlite(c) => $query.load::<$ty>(c),
        }
    };
}

/// Fans out up to `limit` undispatched events to the deliveries of the enabled endpoints of
/// their environment that subscribe to their type (and existed when the event was written),
/// and marks them dispatched — one transaction, so an event is fanned out exactly once.
/// Returns the number of events dispatched.
pub fn fan_out(c: &mut DbConnection, now: i64, limit: i64) -> QueryResult<usize> {
    let events = skip_locked!(
        &mut *c,
        webhook_events::table
            .filter(webhook_events::dispatched_at.is_null())
            .order(webhook_events::created_at.asc())
            .limit(limit)
            .select(WebhookEventRow::as_select()),
        WebhookEventRow
    )?;
    // Per environment: its enabled endpoints with their subscriptions, read and parsed once.
    let mut endpoints: HashMap<String, Vec<(WebhookEndpointRow, Vec<String>)>> = HashMap::new();
    let mut dispatched = 0;
    for event in events {
        let marked = diesel::update(
            webhook_events::table
                .filter(webhook_events::id.eq(&event.id))
                .filter(webhook_events::dispatched_at.is_null()),
        )
        .set(webhook_events::dispatched_at.eq(Some(now)))
        .execute(c)?;
        if marked == 0 {
            continue;
        }
        dispatched += 1;
        if !endpoints.contains_key(&event.environment) {
            let rows = webhook_endpoints::table
                .filter(webhook_endpoints::environment.eq(&event.environment))
                .filter(webhook_endpoints::enabled.eq(true))
                .select(WebhookEndpointRow::as_select())
                .load::<WebhookEndpointRow>(c)?
                .into_iter()
                .map(|e| {
                    let names = e.event_names();
                    (e, names)
                })
                .collect();
            endpoints.insert(event.environment.clone(), rows);
        }
        let subscribed: Vec<WebhookDeliveryRow> = endpoints[&event.environment]
            .iter()
            .filter(|(e, names)| {
                e.created_at <= event.created_at
                    && names.iter().any(|n| n == event.event_type.as_str())
            })
            .map(|(e, _)| WebhookDeliveryRow {
                id: crate::domain::new_id("dlv"),
                environment: event.environment.clone(),
                endpoint_id: e.id.clone(),
                event_id: event.id.clone(),
                event_type: event.event_type,
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: Some(now),
                lease_until: None,
                last_attempt_at: None,
                last_response_status: None,
                last_error: None,
                last_duration_ms: None,
                response_excerpt: None,
                attempt_log: "[]".to_owned(),
                created_at: now,
                updated_at: now,
            })
            .collect();
        // One row at a time: a batch insert is not one statement on both backends.
        for d in &subscribed {
            diesel::insert_into(webhook_deliveries::table)
                .values(d)
                .execute(c)?;
        }
    }
    Ok(dispatched)
}

/// A delivery leased for one attempt, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: WebhookDeliveryRow,
    pub endpoint: WebhookEndpointRow,
    pub payload: String,
}

/// Leases up to `limit` due deliveries of enabled endpoints (not those in `busy`) until
/// `lease_until`: a delivery is attempted by one replica at a time, and one whose replica died
/// is due again when its lease runs out.
pub fn claim(
    c: &mut DbConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
    busy: &[String],
) -> QueryResult<Vec<Claimed>> {
    let due = skip_locked!(
        &mut *c,
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::next_attempt_at.le(now))
            .filter(
                webhook_deliveries::lease_until
                    .is_null()
                    .or(webhook_deliveries::lease_until.lt(now)),
            )
            .filter(webhook_deliveries::endpoint_id.ne_all(busy.to_vec()))
            .order(webhook_deliveries::next_attempt_at.asc())
            .limit(limit)
            .select(WebhookDeliveryRow::as_select()),
        WebhookDeliveryRow
    )?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let endpoint_ids: Vec<&str> = due.iter().map(|d| d.endpoint_id.as_str()).collect();
    let endpoints: HashMap<String, WebhookEndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(endpoint_ids))
        .filter(webhook_endpoints::enabled.eq(true))
        .select(WebhookEndpointRow::as_select())
        .load(c)?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let event_ids: Vec<&str> = due.iter().map(|d| d.event_id.as_str()).collect();
    let payloads: HashMap<String, String> = webhook_events::table
        .filter(webhook_events::id.eq_any(event_ids))
        .select((webhook_events::id, webhook_events::payload))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    let mut claimed = Vec::new();
    for mut d in due {
        let (Some(endpoint), Some(payload)) =
            (endpoints.get(&d.endpoint_id), payloads.get(&d.event_id))
        else {
            continue;
        };
        if endpoint.environment != d.environment {
            continue;
        }
        let leased = diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(&d.id))
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
                .filter(
                    webhook_deliveries::lease_until
                        .is_null()
                        .or(webhook_deliveries::lease_until.lt(now)),
                ),
        )
        .set(webhook_deliveries::lease_until.eq(Some(lease_until)))
        .execute(c)?;
        if leased == 1 {
            d.lease_until = Some(lease_until);
            claimed.push(Claimed {
                delivery: d,
                endpoint: endpoint.clone(),
                payload: payload.clone(),
            });
        }
    }
    Ok(claimed)
}

/// What one attempt did, as stored.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub at: i64,
    pub success: bool,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub response_excerpt: Option<String>,
    /// The delivery's state after it: pending again at `next_attempt_at`, or done.
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<i64>,
    /// The attempt appended to the delivery's log (JSON).
    pub log_entry: serde_json::Value,
    /// An endpoint failing since before this is disabled (with `disable_reason`).
    pub disable_if_failing_since: i64,
    pub disable_reason: String,
}

/// How many attempts a delivery's log keeps.
pub const ATTEMPT_LOG_LEN: usize = 20;

/// Stores an attempt: the delivery's outcome and lease released, and the endpoint's health
/// (last success; failing since; disabled after failing for too long). Returns whether this
/// attempt disabled the endpoint.
pub fn record_attempt(c: &mut DbConnection, a: &AttemptRecord) -> QueryResult<bool> {
    let Some((attempts, log)) = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(&a.delivery_id))
        .select((
            webhook_deliveries::attempts,
            webhook_deliveries::attempt_log,
        ))
        .get_result::<(i32, String)>(c)
        .optional()?
    else {
        // The endpoint (and its log) was deleted meanwhile.
        return Ok(false);
    };
    let mut entries: Vec<serde_json::Value> = serde_json::from_str(&log).unwrap_or_default();
    entries.push(a.log_entry.clone());
    if entries.len() > ATTEMPT_LOG_LEN {
        entries.drain(..entries.len() - ATTEMPT_LOG_LEN);
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(&a.delivery_id)))
        .set((
            webhook_deliveries::attempts.eq(attempts + 1),
            webhook_deliveries::status.eq(a.status),
            webhook_deliveries::next_attempt_at.eq(a.next_attempt_at),
            webhook_deliveries::lease_until.eq(None::<i64>),
            webhook_deliveries::last_attempt_at.eq(Some(a.at)),
            webhook_deliveries::last_response_status.eq(a.response_status),
            webhook_deliveries::last_error.eq(a.error.clone()),
            webhook_deliveries::last_duration_ms.eq(Some(a.duration_ms)),
            webhook_deliveries::response_excerpt.eq(a.response_excerpt.clone()),
            webhook_deliveries::attempt_log.eq(serde_json::Value::from(entries).to_string()),
            webhook_deliveries::updated_at.eq(a.at),
        ))
        .execute(c)?;
    let endpoint = webhook_endpoints::table.filter(webhook_endpoints::id.eq(&a.endpoint_id));
    if a.success {
        diesel::update(endpoint)
            .set((
                webhook_endpoints::last_success_at.eq(Some(a.at)),
                webhook_endpoints::failing_since.eq(None::<i64>),
            ))
            .execute(c)?;
        return Ok(false);
    }
    diesel::update(endpoint.filter(webhook_endpoints::failing_since.is_null()))
        .set(webhook_endpoints::failing_since.eq(Some(a.at)))
        .execute(c)?;
    let disabled = diesel::update(
        endpoint
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(webhook_endpoints::failing_since.le(a.disable_if_failing_since)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(a.disable_reason.clone())),
        webhook_endpoints::updated_at.eq(a.at),
    ))
    .execute(c)?;
    Ok(disabled == 1)
}

/// Removes dispatched events and finished deliveries older than `before`; (events, deliveries).
pub fn prune(c: &mut DbConnection, before: i64) -> QueryResult<(usize, usize)> {
    let deliveries = diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(before))
            .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending)),
    )
    .execute(c)?;
    let events = diesel::delete(
        webhook_events::table
            .filter(webhook_events::created_at.lt(before))
            .filter(webhook_events::dispatched_at.is_not_null())
            .filter(
                webhook_events::id.ne_all(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
                        .select(webhook_deliveries::event_id),
                ),
            ),
    )
    .execute(c)?;
    Ok((events, deliveries))
}

/// The outbox's depth (undispatched events and pending deliveries) and the creation time of
/// the oldest of them.
pub fn outbox_stats(c: &mut DbConnection) -> QueryResult<(i64, Option<i64>)> {
    use diesel::dsl::{count_star, min};
    let (events, oldest_event): (i64, Option<i64>) = webhook_events::table
        .filter(webhook_events::dispatched_at.is_null())
        .select((count_star(), min(webhook_events::created_at)))
        .get_result(c)?;
    let (deliveries, oldest_delivery): (i64, Option<i64>) = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .select((count_star(), min(webhook_deliveries::created_at)))
        .get_result(c)?;
    let oldest = match (oldest_event, oldest_delivery) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok((events + deliveries, oldest))
}
