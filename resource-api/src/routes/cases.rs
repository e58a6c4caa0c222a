//! `/v2/cases`.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::HttpResponse;

use super::AppState;
use crate::auth::{need, Authorized};
use crate::db::Scoped;
use crate::domain::PageQuery;
use crate::error::Result;
use crate::service::cases::{
    self, AssignCase, CaseEventView, CaseQuery, CaseView, CloseCase, CreateCase, PatchCase,
};
use crate::service::now_micros;

/// List cases (filters `status`, `assignee`, `priority`), newest first.
#[utoipa::path(get, path = "/v2/cases", tag = "cases", params(CaseQuery), security(("bearer" = ["cases:read"])),
    responses((status = 200, description = "`{data: [Case], pagination}`", body = Vec<CaseView>),
        (status = 400, body = shared::ErrorBody), (status = 401, body = shared::ErrorBody),
        (status = 403, body = shared::ErrorBody), (status = 429, body = shared::ErrorBody)))]
pub async fn list(
    auth: Authorized<need::CasesRead>,
    state: Data<AppState>,
    q: Query<CaseQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(cases::list(&state.db, Scoped::of(&auth), q.into_inner()).await?))
}

/// One case.
#[utoipa::path(get, path = "/v2/cases/{id}", tag = "cases", params(("id" = String, Path)), security(("bearer" = ["cases:read"])),
    responses((status = 200, body = CaseView), (status = 401, body = shared::ErrorBody),
        (status = 403, body = shared::ErrorBody), (status = 404, body = shared::ErrorBody)))]
pub async fn get(
    auth: Authorized<need::CasesRead>,
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(cases::get(&state.db, Scoped::of(&auth), &id).await?))
}

/// Every change to a case, oldest first.
#[utoipa::path(get, path = "/v2/cases/{id}/history", tag = "cases", params(("id" = String, Path), PageQuery),
    security(("bearer" = ["cases:read"])),
    responses((status = 200, description = "`{data: [Event], pagination}`", body = Vec<CaseEventView>),
        (status = 404, body = shared::ErrorBody)))]
pub async fn history(
    auth: Authorized<need::CasesRead>,
    state: Data<AppState>,
    id: Path<String>,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(cases::history(&state.db, Scoped::of(&auth), &id, q.into_inner()).await?))
}

/// Open a case; it gets a `CF-YYYY-NNNNNN` reference.
#[utoipa::path(post, path = "/v2/cases", tag = "cases", request_body = CreateCase, security(("bearer" = ["cases:write"])),
    responses((status = 201, body = CaseView), (status = 400, body = shared::ErrorBody), (status = 403, body = shared::ErrorBody),
        (status = 413, body = shared::ErrorBody), (status = 415, body = shared::ErrorBody), (status = 422, body = shared::ErrorBody)))]
pub async fn create(
    auth: Authorized<need::CasesWrite>,
    state: Data<AppState>,
    body: Json<CreateCase>,
) -> Result<HttpResponse> {
    let case = cases::create(
        &state.db,
        Scoped::of(&auth),
        &auth.id,
        body.into_inner(),
        now_micros(),
    )
    .await?;
    Ok(HttpResponse::Created().json(case))
}

/// Change title, description, status (not `closed`), priority or subjects.
#[utoipa::path(patch, path = "/v2/cases/{id}", tag = "cases", params(("id" = String, Path)), request_body = PatchCase,
    security(("bearer" = ["cases:write"])),
    responses((status = 200, body = CaseView), (status = 404, body = shared::ErrorBody), (status = 409, description = "The case is closed", body = shared::ErrorBody),
        (status = 422, body = shared::ErrorBody)))]
pub async fn patch(
    auth: Authorized<need::CasesWrite>,
    state: Data<AppState>,
    id: Path<String>,
    body: Json<PatchCase>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        cases::patch(
            &state.db,
            Scoped::of(&auth),
            &auth.id,
            &id,
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Assign (or unassign with `null`).
#[utoipa::path(post, path = "/v2/cases/{id}/assign", tag = "cases", params(("id" = String, Path)), request_body = AssignCase,
    security(("bearer" = ["cases:write"])),
    responses((status = 200, body = CaseView), (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody)))]
pub async fn assign(
    auth: Authorized<need::CasesWrite>,
    state: Data<AppState>,
    id: Path<String>,
    body: Json<AssignCase>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        cases::assign(
            &state.db,
            Scoped::of(&auth),
            &auth.id,
            &id,
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Close with a resolution; closing a closed case is 409.
#[utoipa::path(post, path = "/v2/cases/{id}/close", tag = "cases", params(("id" = String, Path)), request_body = CloseCase,
    security(("bearer" = ["cases:write"])),
    responses((status = 200, body = CaseView), (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody),
        (status = 422, body = shared::ErrorBody)))]
pub async fn close(
    auth: Authorized<need::CasesWrite>,
    state: Data<AppState>,
    id: Path<String>,
    body: Json<CloseCase>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        cases::close(
            &state.db,
            Scoped::of(&auth),
            &auth.id,
            &id,
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}
