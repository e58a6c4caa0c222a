//! `/v2/subjects`.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::web::{Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::{need, Authorized};
use crate::conditional::{respond, IfMatch};
use crate::db::subjects::SubjectRow;
use crate::db::EnvDb;
use crate::domain::{Page, PageQuery};
use crate::error::Result;
use crate::pagination::Lists;
use crate::routes::watchlist::SCORING_BUSY;
use crate::service::idempotency::IdempotencyKey;
use crate::service::now_micros;
use crate::service::records;
use crate::service::subjects::{self, CreateSubject, PatchSubject, SubjectView};
use crate::service::watchlist::Scoring;

/// List subjects.
#[utoipa::path(get, path = "/v2/subjects", operation_id = "subjects_list", tag = "subjects", params(PageQuery), security(("bearer" = ["subjects:read"])),
    responses((status = 200, description = "A page of subjects", body = Page<SubjectView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page")))))]
pub async fn list_subjects(
    _: Authorized<need::SubjectsRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = records::list::<SubjectRow>(&repo, &lists, (), &q).await?;
    Ok(page.respond(&req, &lists))
}

/// A subject's profile with its risk score and level.
#[utoipa::path(get, path = "/v2/subjects/{id}", operation_id = "subjects_retrieve", tag = "subjects", params(("id" = String, Path)), security(("bearer" = ["subjects:read"])),
    responses((status = 200, body = SubjectView, headers(("ETag" = String, description = "Strong entity tag of this version of the record"))), (status = 404, body = shared::ErrorBody)))]
pub async fn get_subject(
    _: Authorized<need::SubjectsRead>,
    repo: EnvDb,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(respond(
        StatusCode::OK,
        &records::get::<SubjectRow>(&repo, &id).await?,
    ))
}

/// Create a subject; its risk is scored at once.
#[utoipa::path(post, path = "/v2/subjects", operation_id = "subjects_create", tag = "subjects", request_body = CreateSubject, security(("bearer" = ["subjects:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential")),
    responses((status = 201, body = SubjectView, headers(("ETag" = String, description = "Strong entity tag of the new record"), ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `Idempotency-Key`", body = shared::ErrorBody), (status = 422, description = "Invalid field, or `idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody),
        (status = 503, description = SCORING_BUSY, body = shared::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before retrying (when every scoring turn was taken)")))))]
pub async fn create_subject(
    auth: Authorized<need::SubjectsWrite>,
    repo: EnvDb,
    scoring: Data<Scoring>,
    key: IdempotencyKey,
    body: Json<CreateSubject>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let idem = key.bind(&auth, "POST /v2/subjects", &input);
    let created = subjects::create(&repo, &scoring, input, idem, now_micros()).await?;
    Ok(created.respond())
}

/// Change a subject; its risk is scored again.
#[utoipa::path(patch, path = "/v2/subjects/{id}", operation_id = "subjects_update", tag = "subjects", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), request_body = PatchSubject,
    security(("bearer" = ["subjects:write"])),
    responses((status = 200, body = SubjectView, headers(("ETag" = String, description = "Strong entity tag of the record after the change"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody),
        (status = 409, description = "`busy`: changed concurrently while it was being screened; retry.", body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody), (status = 422, body = shared::ErrorBody),
        (status = 503, description = SCORING_BUSY, body = shared::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before retrying (when every scoring turn was taken)")))))]
pub async fn patch_subject(
    _: Authorized<need::SubjectsWrite>,
    repo: EnvDb,
    scoring: Data<Scoring>,
    id: Path<String>,
    if_match: IfMatch,
    body: Json<PatchSubject>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let record = subjects::patch(&repo, &scoring, &id, input, if_match, now_micros()).await?;
    Ok(respond(StatusCode::OK, &record))
}
