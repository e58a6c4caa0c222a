//! `/v2/cases`.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::web::{Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::{need, Authorized};
use crate::conditional::{respond, IfMatch};
use crate::db::cases::CaseRow;
use crate::db::EnvDb;
use crate::domain::{Page, PageQuery};
use crate::error::Result;
use crate::pagination::Lists;
use crate::service::cases::{
    self, AssignCase, CaseEventView, CaseQuery, CaseView, CaseWrite, CloseCase, CreateCase,
    PatchCase,
};
use crate::service::idempotency::{IdempotencyKey, IdempotentRequest};
use crate::service::now_micros;
use crate::service::records;

/// List cases (filters `status`, `assignee`, `priority`), newest first.
#[utoipa::path(get, path = "/v2/cases", operation_id = "cases_list", tag = "cases", params(CaseQuery), security(("bearer" = ["cases:read"])),
    responses((status = 200, description = "A page of cases, newest first", body = Page<CaseView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page")))))]
pub async fn list(
    _: Authorized<need::CasesRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<CaseQuery>,
) -> Result<HttpResponse> {
    let page = cases::list(&repo, &lists, q.into_inner()).await?;
    Ok(page.respond(&req, &lists))
}

/// One case.
#[utoipa::path(get, path = "/v2/cases/{id}", operation_id = "cases_retrieve", tag = "cases", params(("id" = String, Path)), security(("bearer" = ["cases:read"])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "Strong entity tag of this version of the case, for `If-Match`"))),
        (status = 404, body = shared::ErrorBody)))]
pub async fn get(
    _: Authorized<need::CasesRead>,
    repo: EnvDb,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(respond(
        StatusCode::OK,
        &records::get::<CaseRow>(&repo, &id).await?,
    ))
}

/// Every change to a case, oldest first.
#[utoipa::path(get, path = "/v2/cases/{id}/history", operation_id = "cases_history", tag = "cases", params(("id" = String, Path), PageQuery),
    security(("bearer" = ["cases:read"])),
    responses((status = 200, description = "A page of history events, oldest first", body = Page<CaseEventView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page"))),
        (status = 404, body = shared::ErrorBody)))]
pub async fn history(
    _: Authorized<need::CasesRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    id: Path<String>,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = cases::history(&repo, &lists, &id, q.into_inner()).await?;
    Ok(page.respond(&req, &lists))
}

/// Open a case; it gets a `CF-YYYY-NNNNNN` reference. With an `Idempotency-Key`, a retry
/// of the same request answers the first answer again instead of opening another case.
#[utoipa::path(post, path = "/v2/cases", operation_id = "cases_create", tag = "cases", request_body = CreateCase, security(("bearer" = ["cases:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential")),
    responses((status = 201, body = CaseView, headers(("ETag" = String, description = "Strong entity tag of the new case"),
            ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `Idempotency-Key`", body = shared::ErrorBody),
        (status = 413, body = shared::ErrorBody), (status = 415, body = shared::ErrorBody),
        (status = 422, description = "Invalid field, or `idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody)))]
pub async fn create(
    auth: Authorized<need::CasesWrite>,
    repo: EnvDb,
    key: IdempotencyKey,
    body: Json<CreateCase>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let idem = key.bind(&auth, "POST /v2/cases", &input);
    let created = cases::create(&repo, auth.id(), input, idem, now_micros()).await?;
    Ok(created.respond())
}

/// Change title, description, status (not `closed`), priority or subjects.
#[utoipa::path(patch, path = "/v2/cases/{id}", operation_id = "cases_update", tag = "cases", request_body = PatchCase,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the change is made only if the case still has one of them")),
    security(("bearer" = ["cases:write"])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "Strong entity tag of the case after the change"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody),
        (status = 409, description = "`conflict`: the case is closed (final).", body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the case changed since the `If-Match` version; nothing was written", body = shared::ErrorBody),
        (status = 422, body = shared::ErrorBody)))]
pub async fn patch(
    auth: Authorized<need::CasesWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    body: Json<PatchCase>,
) -> Result<HttpResponse> {
    write(auth, repo, id, if_match, None, body.into_inner()).await
}

/// Assign (or unassign with `null`).
#[utoipa::path(post, path = "/v2/cases/{id}/assign", operation_id = "cases_assign", tag = "cases", request_body = AssignCase,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential"), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the change is made only if the case still has one of them")),
    security(("bearer" = ["cases:write"])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "Strong entity tag of the case after the change"), ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody),
        (status = 409, description = "`conflict`: the case is closed (final).", body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the case changed since the `If-Match` version; nothing was written", body = shared::ErrorBody)))]
pub async fn assign(
    auth: Authorized<need::CasesWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: Json<AssignCase>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let idem = key.bind(&auth, &format!("POST /v2/cases/{id}/assign"), &input);
    write(auth, repo, id, if_match, idem, input).await
}

/// Close with a resolution; closing a closed case is 409 `conflict` (unless the request repeats
/// the first close's `Idempotency-Key`: then it gets the first answer).
#[utoipa::path(post, path = "/v2/cases/{id}/close", operation_id = "cases_close", tag = "cases", request_body = CloseCase,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential"), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the case is closed only if it still has one of them")),
    security(("bearer" = ["cases:write"])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "Strong entity tag of the closed case"), ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody),
        (status = 409, description = "`conflict`: the case is closed (final).", body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the case changed since the `If-Match` version; nothing was written", body = shared::ErrorBody),
        (status = 422, description = "Invalid field, or `idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody)))]
pub async fn close(
    auth: Authorized<need::CasesWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: Json<CloseCase>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let idem = key.bind(&auth, &format!("POST /v2/cases/{id}/close"), &input);
    write(auth, repo, id, if_match, idem, input).await
}

/// The one body of `patch`, `assign` and `close`: 200 with the case and its new `ETag`.
async fn write<B: Into<CaseWrite>>(
    auth: Authorized<need::CasesWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    body: B,
) -> Result<HttpResponse> {
    let write = body.into();
    let case = cases::write(&repo, auth.id(), &id, write, if_match, idem, now_micros()).await?;
    Ok(case.respond_with(StatusCode::OK))
}
