//! Webhooks (issue 25): endpoints per environment, their secrets, the delivery log and retries
//! by hand. Events are written by `service::records` (`records::events`); the [`worker`] delivers them.
//!
//! An endpoint is a `/v2` record of the credential's environment (another environment's is a
//! 404) and only ever receives that environment's events. Its secret is shown once, on create
//! and on rotation, and is otherwise only ever sealed ([`signing`]).

pub mod worker;

pub use shared::webhooks::{secret as signing, target, DEFAULT_GRACE_SECS, MAX_GRACE_SECS};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use utoipa::ToSchema;

use super::idempotency::{IdempotentRequest, StoredAnswer};
use super::records::{self, check_id, Record};
use crate::auth::{Principal, PrincipalType};
use crate::conditional::{IfMatch, Versioned};
use crate::config::WebhookConfig;
use crate::db::webhooks::{DeliveryFilters, WebhookDeliveryRow, WebhookEndpointRow};
use crate::db::{credentials, EnvDb, VersionedRow};
use crate::domain::values::{DeliveryStatus, EventType};
use crate::domain::{new_id, plausible_id, Page, PageQuery};
use crate::error::{Error, Result};
use crate::pagination::Lists;
use signing::{EndpointSecret, Sealer};

/// What the webhook routes and the worker share: the sealing key, the target rule and the
/// worker's wake-up (a retry by hand is attempted at once).
pub struct Webhooks {
    sealer: Option<Sealer>,
    pub config: WebhookConfig,
    pub wake: Arc<Notify>,
}

impl Webhooks {
    pub fn new(config: &WebhookConfig) -> Webhooks {
        Webhooks {
            sealer: config.settings.sealer(),
            config: config.clone(),
            wake: Arc::new(Notify::new()),
        }
    }

    fn sealer(&self) -> Result<&Sealer> {
        self.sealer.as_ref().ok_or_else(|| {
            Error::Unavailable(
                "Webhooks are not configured on this server (WEBHOOK_SECRET_KEY is not set)."
                    .into(),
            )
        })
    }

    pub fn sealer_opt(&self) -> Option<&Sealer> {
        self.sealer.as_ref()
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where events are POSTed: `https` for live endpoints; never a private address.
    pub url: String,
    /// A non-empty subset of the event types.
    #[schema(value_type = Vec<EventType>)]
    pub events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    pub url: Option<String>,
    #[schema(value_type = Option<Vec<EventType>>)]
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `true` re-enables an endpoint (also one disabled after failing for 5 days).
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret keeps signing beside the new one (default 86400, at most
    /// 604800; 0 ends it at once).
    pub grace_period_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    /// Why the endpoint was disabled by the server (after failing for 5 days), if it was.
    pub disabled_reason: Option<String>,
    /// Until when the previous secret still signs beside the current one, after a rotation.
    pub previous_secret_expires_at: Option<String>,
    pub last_success_at: Option<String>,
    /// The first failure since the last success (unset while healthy).
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An endpoint with its secret: the answer to a create or a rotation, the only time the secret
/// is shown. No `Debug`.
#[derive(Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_` + base64 of 32 random bytes: the key of the Standard Webhooks signature.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub at: String,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<i32>,
    /// Why the attempt failed without an answer (timeout, refused address, connection error).
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    pub event_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    /// The first bytes of the last answer's body (at most 256 characters).
    pub response_excerpt: Option<String>,
    /// The attempts, oldest first (the last 20).
    pub attempt_log: Vec<AttemptView>,
    pub created_at: String,
    pub updated_at: String,
}

fn time(t: Option<i64>) -> Option<String> {
    t.map(shared::time::rfc3339)
}

impl Record for WebhookEndpointRow {
    type View = EndpointView;

    fn into_view(self) -> EndpointView {
        let events = self
            .event_names()
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        EndpointView {
            id: self.id,
            url: self.url,
            description: self.description,
            events,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            previous_secret_expires_at: time(
                self.previous_secret_sealed
                    .as_ref()
                    .and(self.previous_secret_expires_at),
            ),
            last_success_at: time(self.last_success_at),
            failing_since: time(self.failing_since),
            created_at: shared::time::rfc3339(self.created_at),
            updated_at: shared::time::rfc3339(self.updated_at),
        }
    }
}

impl Record for WebhookDeliveryRow {
    type View = DeliveryView;

    fn into_view(self) -> DeliveryView {
        let log: Vec<AttemptView> = serde_json::from_str(&self.attempt_log).unwrap_or_default();
        DeliveryView {
            id: self.id,
            endpoint_id: self.endpoint_id,
            event_id: self.event_id,
            event_type: self.event_type,
            status: self.status,
            attempts: self.attempts,
            next_attempt_at: time(
                self.next_attempt_at
                    .filter(|_| self.status == DeliveryStatus::Pending),
            ),
            last_attempt_at: time(self.last_attempt_at),
            response_status: self.last_response_status,
            error: self.last_error,
            duration_ms: self.last_duration_ms,
            response_excerpt: self.response_excerpt,
            attempt_log: log,
            created_at: shared::time::rfc3339(self.created_at),
            updated_at: shared::time::rfc3339(self.updated_at),
        }
    }
}

/// The stored form of one attempt in a delivery's log.
pub fn attempt_entry(at: i64, status: Option<i32>, error: Option<&str>, duration_ms: i64) -> Value {
    serde_json::to_value(AttemptView {
        at: shared::time::rfc3339(at),
        response_status: status,
        error: error.map(str::to_owned),
        duration_ms,
    })
    .unwrap_or(Value::Null)
}

fn field(e: shared::validate::FieldError) -> Error {
    Error::validation(e.field, e.message)
}

fn parse_events(events: &[String]) -> Result<String> {
    shared::webhooks::parse_events(events).map_err(field)
}

async fn check_url(repo: &EnvDb, hooks: &Webhooks, raw: &str) -> Result<String> {
    let env = repo.scoped().env();
    shared::webhooks::url(raw, env, hooks.config.settings.allow_private_targets)
        .await
        .map_err(field)
}

fn description(d: &str) -> Result<String> {
    shared::webhooks::description(d).map_err(field)
}

/// `POST /v2/webhook-endpoints`.
pub async fn create(
    repo: &EnvDb,
    hooks: &Webhooks,
    by: &Principal,
    input: CreateEndpoint,
    now: i64,
) -> Result<Versioned<EndpointWithSecret>> {
    let events = parse_events(&input.events)?;
    let description = description(input.description.as_deref().unwrap_or(""))?;
    let url = check_url(repo, hooks, &input.url).await?;
    let sealer = hooks.sealer()?;
    let (row, secret) = WebhookEndpointRow::new(
        new_id("whe"),
        repo.scoped().env(),
        url,
        events,
        description,
        None,
        sealer,
        now,
    );
    let scoped = repo.scoped();
    let (kind, credential) = (by.principal_type(), by.id().to_owned());
    let row = repo
        .db()
        .transaction(move |c| {
            // The endpoint belongs to whoever owns the credential that made it (the console
            // shows a developer their own).
            let owner_id = match kind {
                PrincipalType::Application => credentials::app_owner(c, scoped.env(), &credential)?,
                PrincipalType::ApiKey => credentials::key_owner(c, scoped.env(), &credential)?,
            };
            let row = WebhookEndpointRow {
                owner_id,
                ..row.clone()
            };
            if shared::webhooks::endpoint::count(c, scoped.env())?
                >= shared::webhooks::MAX_ENDPOINTS_PER_ENVIRONMENT
            {
                return Err(field(shared::webhooks::too_many()));
            }
            row.insert(&scoped, c)?;
            Ok::<_, Error>(row)
        })
        .await?;
    let version = row.version;
    Ok(Versioned::new(
        EndpointWithSecret {
            secret: secret.to_whsec(),
            endpoint: row.into_view(),
        },
        version,
    ))
}

/// `GET /v2/webhook-endpoints`.
pub async fn list(repo: &EnvDb, lists: &Lists, q: &PageQuery) -> Result<Page<EndpointView>> {
    records::list::<WebhookEndpointRow>(repo, lists, (), q).await
}

/// `PATCH /v2/webhook-endpoints/{id}`.
pub async fn patch(
    repo: &EnvDb,
    hooks: &Webhooks,
    id: &str,
    input: PatchEndpoint,
    if_match: IfMatch,
    now: i64,
) -> Result<Versioned<EndpointView>> {
    check_id::<WebhookEndpointRow>(id)?;
    let events = input.events.as_deref().map(parse_events).transpose()?;
    let description = input.description.as_deref().map(description).transpose()?;
    let url = match &input.url {
        Some(u) => Some(check_url(repo, hooks, u).await?),
        None => None,
    };
    let enabled = input.enabled;
    let row = records::update(
        repo,
        id,
        if_match,
        now,
        move |row: &mut WebhookEndpointRow, _, at, _| {
            let before = (
                row.url.clone(),
                row.events.clone(),
                row.description.clone(),
                row.enabled,
            );
            if let Some(u) = &url {
                row.url = u.clone();
            }
            if let Some(e) = &events {
                row.events = e.clone();
            }
            if let Some(d) = &description {
                row.description = d.clone();
            }
            if let Some(on) = enabled {
                row.set_enabled(on);
            }
            let after = (
                row.url.clone(),
                row.events.clone(),
                row.description.clone(),
                row.enabled,
            );
            if before == after {
                return Ok(None);
            }
            row.updated_at = at;
            Ok(Some(()))
        },
        |_, _, (), _| Ok(()),
    )
    .await?;
    Ok(records::versioned(row))
}

/// `DELETE /v2/webhook-endpoints/{id}`: the endpoint and its delivery log.
/// With an `Idempotency-Key`, a retry answers the first delete's 204 again.
pub async fn delete(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
) -> Result<Option<StoredAnswer>> {
    records::delete::<WebhookEndpointRow, _>(
        repo,
        id,
        if_match,
        super::now_micros(),
        idem,
        |scoped, c, id, version| scoped.delete_webhook_endpoint(c, id, version),
    )
    .await
}

/// `POST /v2/webhook-endpoints/{id}/rotate-secret`: a new secret (shown once); the previous
/// one keeps signing beside it for the grace period.
pub async fn rotate_secret(
    repo: &EnvDb,
    hooks: &Webhooks,
    id: &str,
    input: RotateSecret,
    now: i64,
) -> Result<Versioned<EndpointWithSecret>> {
    check_id::<WebhookEndpointRow>(id)?;
    let grace = shared::webhooks::grace_period(input.grace_period_seconds).map_err(field)?;
    let sealer = hooks.sealer()?.clone();
    let secret = Arc::new(EndpointSecret::generate());
    let new_secret = secret.clone();
    let row = records::update(
        repo,
        id,
        IfMatch::default(),
        now,
        move |row: &mut WebhookEndpointRow, _, at, _| {
            row.rotate(&sealer, &new_secret, grace, at);
            Ok(Some(()))
        },
        |_, _, (), _| Ok(()),
    )
    .await?;
    let version = row.version;
    Ok(Versioned::new(
        EndpointWithSecret {
            secret: secret.to_whsec(),
            endpoint: row.into_view(),
        },
        version,
    ))
}

/// `GET /v2/webhook-endpoints/{id}/deliveries`: newest first.
pub async fn deliveries(
    repo: &EnvDb,
    lists: &Lists,
    endpoint_id: &str,
    q: &PageQuery,
) -> Result<Page<DeliveryView>> {
    records::read::<WebhookEndpointRow>(repo, endpoint_id).await?;
    let filters = DeliveryFilters {
        endpoint_id: endpoint_id.to_owned(),
    };
    records::list::<WebhookDeliveryRow>(repo, lists, filters, q).await
}

/// `POST /v2/webhook-endpoints/{id}/deliveries/{delivery_id}/retry`: the delivery is due now
/// (one more attempt, whatever it reached before; the same `webhook-id`). 409 while a replica
/// is attempting it.
pub async fn retry(
    repo: &EnvDb,
    hooks: &Webhooks,
    endpoint_id: &str,
    delivery_id: &str,
    now: i64,
) -> Result<DeliveryView> {
    check_id::<WebhookEndpointRow>(endpoint_id)?;
    if !plausible_id("dlv", delivery_id) {
        return Err(Error::NotFound("delivery"));
    }
    let (scoped, e, d) = (
        repo.scoped(),
        endpoint_id.to_owned(),
        delivery_id.to_owned(),
    );
    let row = repo
        .db()
        .transaction(move |c| {
            if scoped.find_delivery(c, &e, &d)?.is_none() {
                return Err(Error::NotFound("delivery"));
            }
            if scoped.retry_delivery(c, &e, &d, now)? == 0 {
                return Err(Error::Conflict(
                    "The delivery is being attempted right now; retry when it is done.".into(),
                ));
            }
            scoped
                .find_delivery(c, &e, &d)?
                .ok_or(Error::NotFound("delivery"))
        })
        .await?;
    hooks.wake.notify_one();
    Ok(row.into_view())
}
