//! Webhook endpoints managed in the console (issue 25: admins every endpoint, developers their
//! own sandbox ones; who may do what is `console::policy`). The endpoints are the resource
//! API's (`/v2/webhook-endpoints`, same table, same rules from `shared::webhooks`): one made here
//! receives its environment's events like one made through the API, and its secret is sealed
//! under the same `WEBHOOK_SECRET_KEY`. Every change is audited here, in its transaction.

use diesel::Connection;
use serde_json::json;
use shared::db::Db;
use shared::webhooks::secret::EndpointSecret;
use shared::webhooks::Settings;
use shared::Environment;

use super::audit::{self, AuditContext, AuditEvent, Feed};
use super::random_base62;
use crate::db::webhook_endpoints::{
    self as rows, DeliveryLine, EndpointFilter, WebhookEndpointRow,
};
use crate::error::{Error, Result};

/// Deliveries an endpoint's page shows.
pub const RECENT_DELIVERIES: i64 = 20;

/// An endpoint as the console shows it (never its secret).
#[derive(Debug, Clone)]
pub struct EndpointView {
    pub id: String,
    pub environment: Environment,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub owner_id: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub last_success_at: Option<String>,
    pub failing_since: Option<String>,
    pub created_at: String,
    /// The stored version: a change form carries it back.
    pub version: i64,
}

impl EndpointView {
    fn of(row: &WebhookEndpointRow) -> Result<EndpointView> {
        let environment = row.environment.parse().map_err(|_| {
            Error::Internal(format!("endpoint {} has no known environment", row.id))
        })?;
        let time = |t: Option<i64>| t.map(shared::time::rfc3339);
        Ok(EndpointView {
            id: row.id.clone(),
            environment,
            url: row.url.clone(),
            description: row.description.clone(),
            events: row.event_names(),
            enabled: row.enabled,
            disabled_reason: row.disabled_reason.clone(),
            owner_id: row.owner_id.clone(),
            previous_secret_expires_at: time(
                row.previous_secret_sealed
                    .as_ref()
                    .and(row.previous_secret_expires_at),
            ),
            last_success_at: time(row.last_success_at),
            failing_since: time(row.failing_since),
            created_at: shared::time::rfc3339(row.created_at),
            version: row.version,
        })
    }
}

/// A new endpoint and its secret (`whsec_…`), to be shown once. No `Debug`.
pub struct EndpointWithSecret {
    pub endpoint: EndpointView,
    pub secret: String,
}

/// A new endpoint as the console's form gives it.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub environment: Environment,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub owner_id: Option<String>,
}

/// A change: each `Some` field replaces the stored one.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
}

fn field(e: shared::validate::FieldError) -> Error {
    Error::Validation {
        field: e.field,
        message: e.message,
    }
}

fn sealer(settings: &Settings) -> Result<shared::webhooks::secret::Sealer> {
    settings.sealer().ok_or_else(|| {
        Error::Validation {
            field: "secret",
            message: "cannot be made here: WEBHOOK_SECRET_KEY is not set on the auth server (set it to the resource API's)".into(),
        }
    })
}

fn plausible_id(id: &str) -> bool {
    shared::validate::plausible_id("whe", id)
}

const NOT_FOUND: Error = Error::NotFound("webhook endpoint");

/// Endpoints matching `filter`, newest first (at most [`rows::LIST_LIMIT`]).
pub async fn list(db: &Db, filter: EndpointFilter) -> Result<Vec<EndpointView>> {
    let found = db.run(move |c| rows::list(c, &filter)).await?;
    found.iter().map(EndpointView::of).collect()
}

pub async fn get(db: &Db, id: &str) -> Result<EndpointView> {
    EndpointView::of(&find(db, id).await?)
}

async fn find(db: &Db, id: &str) -> Result<WebhookEndpointRow> {
    if !plausible_id(id) {
        return Err(NOT_FOUND);
    }
    let id = id.to_owned();
    db.run(move |c| rows::find(c, &id)).await?.ok_or(NOT_FOUND)
}

/// The newest deliveries of `endpoint` (as the page already read it).
pub async fn deliveries(db: &Db, endpoint: &EndpointView) -> Result<Vec<DeliveryLine>> {
    let (env, id) = (endpoint.environment.as_str(), endpoint.id.clone());
    Ok(db
        .run(move |c| rows::deliveries(c, env, &id, RECENT_DELIVERIES))
        .await?)
}

pub async fn create(
    db: &Db,
    ctx: &AuditContext,
    settings: &Settings,
    new: NewEndpoint,
    now: i64,
) -> Result<EndpointWithSecret> {
    let env = new.environment.as_str();
    let events = shared::webhooks::parse_events(&new.events).map_err(field)?;
    let description = shared::webhooks::description(&new.description).map_err(field)?;
    let url = shared::webhooks::url(&new.url, env, settings.allow_private_targets)
        .await
        .map_err(field)?;
    let sealer = sealer(settings)?;
    let (row, secret) = WebhookEndpointRow::new(
        format!("whe_{}", random_base62(20)),
        env,
        url,
        events,
        description,
        new.owner_id,
        &sealer,
        now,
    );
    let event = AuditEvent::success(
        "webhook_endpoint.create",
        &row.id,
        json!({"environment": row.environment, "url": row.url, "events": row.event_names(),
               "owner_id": row.owner_id}),
    );
    let (stored, ctx) = (row.clone(), ctx.clone());
    let added = db
        .run(move |c| {
            c.transaction(|c| {
                let env = stored.environment.as_str();
                if shared::webhooks::endpoint::count(c, env)?
                    >= shared::webhooks::MAX_ENDPOINTS_PER_ENVIRONMENT
                {
                    return Ok(false);
                }
                rows::insert(c, &stored)?;
                audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                Ok(true)
            })
        })
        .await?;
    if !added {
        return Err(field(shared::webhooks::too_many()));
    }
    Ok(EndpointWithSecret {
        endpoint: EndpointView::of(&row)?,
        secret: secret.to_whsec(),
    })
}

/// Applies `change` to the endpoint as it was read (`version`): a change made meanwhile (by
/// the API, a worker disabling it, another operator) is a 409 and nothing is written.
async fn save(
    db: &Db,
    ctx: &AuditContext,
    mut row: WebhookEndpointRow,
    event: AuditEvent,
    now: i64,
) -> Result<WebhookEndpointRow> {
    let ctx = ctx.clone();
    row.updated_at = now;
    let saved = db
        .run(move |c| {
            c.transaction(|c| {
                let mut row = row.clone();
                if !rows::save_if_current(c, &mut row)? {
                    return Ok(None);
                }
                audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                Ok(Some(row))
            })
        })
        .await?;
    saved.ok_or_else(changed_meanwhile)
}

fn changed_meanwhile() -> Error {
    Error::Conflict("The endpoint changed while this page was open; reload and try again.".into())
}

/// Changes url, events or description of endpoint `id` (read at `version`).
pub async fn update(
    db: &Db,
    ctx: &AuditContext,
    settings: &Settings,
    id: &str,
    version: i64,
    change: EndpointChange,
    now: i64,
) -> Result<EndpointView> {
    let mut row = find(db, id).await?;
    if row.version != version {
        return Err(changed_meanwhile());
    }
    if let Some(e) = &change.events {
        row.events = shared::webhooks::parse_events(e).map_err(field)?;
    }
    if let Some(d) = &change.description {
        row.description = shared::webhooks::description(d).map_err(field)?;
    }
    if let Some(u) = &change.url {
        row.url = shared::webhooks::url(u, &row.environment, settings.allow_private_targets)
            .await
            .map_err(field)?;
    }
    let event = AuditEvent::success(
        "webhook_endpoint.update",
        &row.id,
        json!({"url": row.url, "events": row.event_names()}),
    );
    EndpointView::of(&save(db, ctx, row, event, now).await?)
}

/// Enables (clearing the server's reason and the failure streak) or disables endpoint `id`.
pub async fn set_enabled(db: &Db, ctx: &AuditContext, id: &str, on: bool, now: i64) -> Result<()> {
    let mut row = find(db, id).await?;
    if row.enabled == on {
        return Ok(());
    }
    row.set_enabled(on);
    let action = if on {
        "webhook_endpoint.enable"
    } else {
        "webhook_endpoint.disable"
    };
    save(
        db,
        ctx,
        row,
        AuditEvent::success(action, id, json!({})),
        now,
    )
    .await?;
    Ok(())
}

/// A new secret for endpoint `id`; the current one keeps signing beside it for `grace_secs`.
pub async fn rotate_secret(
    db: &Db,
    ctx: &AuditContext,
    settings: &Settings,
    id: &str,
    grace_secs: Option<u64>,
    now: i64,
) -> Result<EndpointWithSecret> {
    let grace = shared::webhooks::grace_period(grace_secs).map_err(field)?;
    let sealer = sealer(settings)?;
    let mut row = find(db, id).await?;
    let secret = EndpointSecret::generate();
    row.rotate(&sealer, &secret, grace, now);
    let event = AuditEvent::success(
        "webhook_endpoint.rotate_secret",
        id,
        json!({"grace_period_seconds": grace}),
    );
    let row = save(db, ctx, row, event, now).await?;
    Ok(EndpointWithSecret {
        endpoint: EndpointView::of(&row)?,
        secret: secret.to_whsec(),
    })
}

/// Removes endpoint `id` and its delivery log.
pub async fn delete(db: &Db, ctx: &AuditContext, id: &str, now: i64) -> Result<()> {
    let row = find(db, id).await?;
    let ctx = ctx.clone();
    let event = AuditEvent::success(
        "webhook_endpoint.delete",
        &row.id,
        json!({"environment": row.environment, "url": row.url}),
    );
    let deleted = db
        .run(move |c| {
            c.transaction(|c| {
                let n =
                    shared::webhooks::endpoint::delete(c, &row.environment, &row.id, row.version)?;
                if n == 1 {
                    audit::change(c, &ctx, Feed::TrailOnly, &event, now)?;
                }
                Ok(n == 1)
            })
        })
        .await?;
    deleted.then_some(()).ok_or_else(changed_meanwhile)
}
