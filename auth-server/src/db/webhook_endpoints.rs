//! The resource API's webhook endpoints (`shared::webhooks::endpoint`), as the console reads and
//! changes them: every environment, filtered by owner; writes at the version read (a change
//! made meanwhile through `/v2` is not overwritten). The delivery log is read, never written.

use diesel::prelude::*;
use shared::db::schema::{webhook_deliveries, webhook_endpoints};
use shared::db::{Backend, DbConnection};
pub use shared::webhooks::endpoint::WebhookEndpointRow;

/// What the console's list may contain: `None` leaves a field open.
#[derive(Debug, Clone, Default)]
pub struct EndpointFilter {
    pub environment: Option<String>,
    pub owner_id: Option<String>,
}

/// The most endpoints a list shows (newest first).
pub const LIST_LIMIT: i64 = 500;

pub fn list(c: &mut DbConnection, filter: &EndpointFilter) -> QueryResult<Vec<WebhookEndpointRow>> {
    let mut query = webhook_endpoints::table.into_boxed::<Backend>();
    if let Some(env) = &filter.environment {
        query = query.filter(webhook_endpoints::environment.eq(env.clone()));
    }
    if let Some(owner) = &filter.owner_id {
        query = query.filter(webhook_endpoints::owner_id.eq(owner.clone()));
    }
    query
        .order((
            webhook_endpoints::created_at.desc(),
            webhook_endpoints::id.desc(),
        ))
        .limit(LIST_LIMIT)
        .select(WebhookEndpointRow::as_select())
        .load(c)
}

pub fn find(c: &mut DbConnection, id: &str) -> QueryResult<Option<WebhookEndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .select(WebhookEndpointRow::as_select())
        .get_result(c)
        .optional()
}

pub fn insert(c: &mut DbConnection, row: &WebhookEndpointRow) -> QueryResult<usize> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(c)
}

/// Writes `row` with its version bumped if the stored version is still `row.version`;
/// `false` (nothing written) when another change came first.
pub fn save_if_current(c: &mut DbConnection, row: &mut WebhookEndpointRow) -> QueryResult<bool> {
    let read = row.version;
    row.version = read + 1;
    let n = diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(&row.id))
            .filter(webhook_endpoints::environment.eq(&row.environment))
            .filter(webhook_endpoints::version.eq(read)),
    )
    .set(&*row)
    .execute(c)?;
    if n == 0 {
        row.version = read;
    }
    Ok(n == 1)
}

/// One delivery as the console lists it.
#[derive(Debug, Clone, Queryable)]
pub struct DeliveryLine {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_attempt_at: Option<i64>,
    pub last_response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// The newest `limit` deliveries of endpoint `id` of `environment`.
pub fn deliveries(
    c: &mut DbConnection,
    environment: &str,
    id: &str,
    limit: i64,
) -> QueryResult<Vec<DeliveryLine>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::environment.eq(environment))
        .filter(webhook_deliveries::endpoint_id.eq(id))
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(limit)
        .select((
            webhook_deliveries::id,
            webhook_deliveries::event_id,
            webhook_deliveries::event_type,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::last_attempt_at,
            webhook_deliveries::last_response_status,
            webhook_deliveries::last_error,
            webhook_deliveries::created_at,
        ))
        .load(c)
}
