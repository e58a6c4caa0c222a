//! `/v2/sars`.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::web::{Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::{need, Authorized};
use crate::conditional::{respond, IfMatch};
use crate::db::sars::SarRow;
use crate::db::EnvDb;
use crate::domain::{Page, PageQuery};
use crate::error::Result;
use crate::pagination::Lists;
use crate::service::idempotency::IdempotencyKey;
use crate::service::now_micros;
use crate::service::records;
use crate::service::sars::{self, CreateSar, PatchSar, SarView};

/// List SARs, newest first.
#[utoipa::path(get, path = "/v2/sars", operation_id = "sars_list", tag = "sars", params(PageQuery), security(("bearer" = ["sar:read"])),
    responses((status = 200, description = "A page of SARs, newest first", body = Page<SarView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page")))))]
pub async fn list_sars(
    _: Authorized<need::SarRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = records::list::<SarRow>(&repo, &lists, (), &q).await?;
    Ok(page.respond(&req, &lists))
}

/// One SAR.
#[utoipa::path(get, path = "/v2/sars/{id}", operation_id = "sars_retrieve", tag = "sars", params(("id" = String, Path)), security(("bearer" = ["sar:read"])),
    responses((status = 200, body = SarView, headers(("ETag" = String, description = "Strong entity tag of this version of the record"))), (status = 404, body = shared::ErrorBody)))]
pub async fn get_sar(
    _: Authorized<need::SarRead>,
    repo: EnvDb,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(respond(
        StatusCode::OK,
        &records::get::<SarRow>(&repo, &id).await?,
    ))
}

/// Create a draft SAR for a case of the same environment.
#[utoipa::path(post, path = "/v2/sars", operation_id = "sars_create", tag = "sars", request_body = CreateSar, security(("bearer" = ["sar:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential")),
    responses((status = 201, body = SarView, headers(("ETag" = String, description = "Strong entity tag of the new record"), ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `Idempotency-Key`", body = shared::ErrorBody), (status = 422, description = "Invalid field, or `idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody)))]
pub async fn create_sar(
    auth: Authorized<need::SarWrite>,
    repo: EnvDb,
    key: IdempotencyKey,
    body: Json<CreateSar>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let idem = key.bind(&auth, "POST /v2/sars", &input);
    let created = sars::create(&repo, input, idem, now_micros()).await?;
    Ok(created.respond())
}

/// Edit a draft; submitted SARs are immutable (409).
#[utoipa::path(patch, path = "/v2/sars/{id}", operation_id = "sars_update", tag = "sars", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), request_body = PatchSar,
    security(("bearer" = ["sar:write"])),
    responses((status = 200, body = SarView, headers(("ETag" = String, description = "Strong entity tag of the record after the change"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody), (status = 409, description = "`conflict`: only drafts can be edited; this SAR was submitted (final).", body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody), (status = 422, body = shared::ErrorBody)))]
pub async fn patch_sar(
    _: Authorized<need::SarWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    body: Json<PatchSar>,
) -> Result<HttpResponse> {
    let record = sars::patch(&repo, &id, body.into_inner(), if_match, now_micros()).await?;
    Ok(respond(StatusCode::OK, &record))
}

/// Submit a draft for review.
#[utoipa::path(post, path = "/v2/sars/{id}/submit", operation_id = "sars_submit", tag = "sars", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential"), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), security(("bearer" = ["sar:write"])),
    responses((status = 200, body = SarView, headers(("ETag" = String, description = "Strong entity tag of the submitted SAR"), ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody), (status = 409, description = "`conflict`: the SAR was already submitted (final).", body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody), (status = 422, description = "The SAR has no narrative, or `idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody)))]
pub async fn submit_sar(
    auth: Authorized<need::SarWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
) -> Result<HttpResponse> {
    let idem = key.bind(&auth, &format!("POST /v2/sars/{id}/submit"), &());
    let sar = sars::submit(&repo, &id, if_match, idem, now_micros()).await?;
    Ok(sar.respond_with(StatusCode::OK))
}
