//! `/v2/webhook-endpoints`.

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::{need, Authorized};
use crate::conditional::{respond, IfMatch};
use crate::db::webhooks::WebhookEndpointRow;
use crate::db::EnvDb;
use crate::domain::{Page, PageQuery};
use crate::error::{Error, Result};
use crate::pagination::Lists;
use crate::service::idempotency::IdempotencyKey;
use crate::service::now_micros;
use crate::service::records;
use crate::service::webhooks::{
    self, CreateEndpoint, DeliveryView, EndpointView, EndpointWithSecret, PatchEndpoint,
    RotateSecret, Webhooks,
};

/// Register an endpoint; the answer carries its signing secret, shown this once.
#[utoipa::path(post, path = "/v2/webhook-endpoints", operation_id = "webhook_endpoints_create", tag = "webhooks", request_body = CreateEndpoint, security(("bearer" = ["webhooks:write"])),
    responses((status = 201, body = EndpointWithSecret, headers(("ETag" = String, description = "Strong entity tag of the new record"))),
        (status = 422, description = "Invalid field: `url` (not http(s), not https for live, a private or unresolvable host; or the environment already has 50 endpoints), `events` (empty or unknown type), `description`", body = shared::ErrorBody),
        (status = 503, description = "Webhooks are not configured on this server (`WEBHOOK_SECRET_KEY`)", body = shared::ErrorBody)))]
pub async fn create(
    auth: Authorized<need::WebhooksWrite>,
    repo: EnvDb,
    hooks: Data<Webhooks>,
    body: Json<CreateEndpoint>,
) -> Result<HttpResponse> {
    let created = webhooks::create(&repo, &hooks, &auth, body.into_inner(), now_micros()).await?;
    Ok(respond(StatusCode::CREATED, &created))
}

/// List endpoints of the credential's environment, newest first.
#[utoipa::path(get, path = "/v2/webhook-endpoints", operation_id = "webhook_endpoints_list", tag = "webhooks", params(PageQuery), security(("bearer" = ["webhooks:read"])),
    responses((status = 200, description = "A page of endpoints, newest first", body = Page<EndpointView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page")))))]
pub async fn list(
    _: Authorized<need::WebhooksRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = webhooks::list(&repo, &lists, &q).await?;
    Ok(page.respond(&req, &lists))
}

/// One endpoint (never its secret).
#[utoipa::path(get, path = "/v2/webhook-endpoints/{id}", operation_id = "webhook_endpoints_retrieve", tag = "webhooks", params(("id" = String, Path)), security(("bearer" = ["webhooks:read"])),
    responses((status = 200, body = EndpointView, headers(("ETag" = String, description = "Strong entity tag of this version of the record"))), (status = 404, body = shared::ErrorBody)))]
pub async fn get(
    _: Authorized<need::WebhooksRead>,
    repo: EnvDb,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(respond(
        StatusCode::OK,
        &records::get::<WebhookEndpointRow>(&repo, &id).await?,
    ))
}

/// Change an endpoint's URL, events, description or `enabled`.
#[utoipa::path(patch, path = "/v2/webhook-endpoints/{id}", operation_id = "webhook_endpoints_update", tag = "webhooks", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), request_body = PatchEndpoint,
    security(("bearer" = ["webhooks:write"])),
    responses((status = 200, body = EndpointView, headers(("ETag" = String, description = "Strong entity tag of the record after the change"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody), (status = 422, body = shared::ErrorBody)))]
pub async fn patch(
    _: Authorized<need::WebhooksWrite>,
    repo: EnvDb,
    hooks: Data<Webhooks>,
    id: Path<String>,
    if_match: IfMatch,
    body: Json<PatchEndpoint>,
) -> Result<HttpResponse> {
    let record = webhooks::patch(
        &repo,
        &hooks,
        &id,
        body.into_inner(),
        if_match,
        now_micros(),
    )
    .await?;
    Ok(respond(StatusCode::OK, &record))
}

/// Remove an endpoint and its delivery log.
#[utoipa::path(delete, path = "/v2/webhook-endpoints/{id}", operation_id = "webhook_endpoints_delete", tag = "webhooks", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential"), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), security(("bearer" = ["webhooks:write"])),
    responses((status = 204, description = "Deleted (or, with `Idempotency-Key`, the stored answer of the first delete)", headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))), (status = 422, description = "`idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody), (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody), (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody)))]
pub async fn delete(
    auth: Authorized<need::WebhooksWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
) -> Result<HttpResponse> {
    let idem = key.bind(&auth, &format!("DELETE /v2/webhook-endpoints/{id}"), &());
    Ok(match webhooks::delete(&repo, &id, if_match, idem).await? {
        Some(replayed) => replayed.respond(),
        None => HttpResponse::NoContent().finish(),
    })
}

/// A new signing secret, shown this once; the previous one keeps signing beside it for
/// `grace_period_seconds` (default 86400; both signatures in `webhook-signature`).
#[utoipa::path(post, path = "/v2/webhook-endpoints/{id}/rotate-secret", operation_id = "webhook_endpoints_rotate_secret", tag = "webhooks", params(("id" = String, Path)), request_body(content = Option<RotateSecret>, description = "Optional; an empty body keeps the default grace period"),
    security(("bearer" = ["webhooks:write"])),
    responses((status = 200, body = EndpointWithSecret, headers(("ETag" = String, description = "Strong entity tag of the record after the rotation"))),
        (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody), (status = 422, body = shared::ErrorBody), (status = 503, description = "Webhooks are not configured on this server", body = shared::ErrorBody)))]
pub async fn rotate_secret(
    _: Authorized<need::WebhooksWrite>,
    repo: EnvDb,
    hooks: Data<Webhooks>,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse> {
    let input: RotateSecret = if body.iter().all(u8::is_ascii_whitespace) {
        RotateSecret::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Error::validation(
                "grace_period_seconds",
                format!("the body must be {{\"grace_period_seconds\": <0–604800>}} ({e})"),
            )
        })?
    };
    let rotated = webhooks::rotate_secret(&repo, &hooks, &id, input, now_micros()).await?;
    Ok(respond(StatusCode::OK, &rotated))
}

/// The endpoint's deliveries, newest first, each with its attempts.
#[utoipa::path(get, path = "/v2/webhook-endpoints/{id}/deliveries", operation_id = "webhook_endpoints_deliveries_list", tag = "webhooks", params(("id" = String, Path), PageQuery), security(("bearer" = ["webhooks:read"])),
    responses((status = 200, description = "A page of deliveries, newest first", body = Page<DeliveryView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page"))), (status = 404, body = shared::ErrorBody)))]
pub async fn deliveries(
    _: Authorized<need::WebhooksRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    id: Path<String>,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = webhooks::deliveries(&repo, &lists, &id, &q).await?;
    Ok(page.respond(&req, &lists))
}

/// Attempt a delivery again now (the same `webhook-id`), whatever it reached before.
#[utoipa::path(post, path = "/v2/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", operation_id = "webhook_endpoints_deliveries_retry", tag = "webhooks", params(("id" = String, Path), ("delivery_id" = String, Path)), security(("bearer" = ["webhooks:write"])),
    responses((status = 202, description = "The delivery is due now", body = DeliveryView), (status = 404, body = shared::ErrorBody), (status = 409, description = "The delivery is being attempted right now", body = shared::ErrorBody)))]
pub async fn retry(
    _: Authorized<need::WebhooksWrite>,
    repo: EnvDb,
    hooks: Data<Webhooks>,
    path: Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, delivery_id) = path.into_inner();
    let view = webhooks::retry(&repo, &hooks, &id, &delivery_id, now_micros()).await?;
    Ok(HttpResponse::Accepted().json(view))
}
