//! `/v2/sars`, `/v2/watchlist`, `/v2/subjects`.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::HttpResponse;

use super::AppState;
use crate::auth::{need, Authorized};
use crate::db::Scoped;
use crate::domain::PageQuery;
use crate::error::Result;
use crate::service::now_micros;
use crate::service::sars::{self, CreateSar, PatchSar, SarView};
use crate::service::subjects::{self, CreateSubject, PatchSubject, SubjectView};
use crate::service::watchlist::{
    self, CreateEntry, EntryView, PatchEntry, ScreenRequest, ScreenResponse,
};

/// List SARs, newest first.
#[utoipa::path(get, path = "/v2/sars", tag = "sars", params(PageQuery), security(("bearer" = ["sar:read"])),
    responses((status = 200, description = "`{data: [SAR], pagination}`", body = Vec<SarView>), (status = 403, body = shared::ErrorBody)))]
pub async fn list_sars(
    auth: Authorized<need::SarRead>,
    state: Data<AppState>,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(sars::list(&state.db, Scoped::of(&auth), q.into_inner()).await?))
}

/// One SAR.
#[utoipa::path(get, path = "/v2/sars/{id}", tag = "sars", params(("id" = String, Path)), security(("bearer" = ["sar:read"])),
    responses((status = 200, body = SarView), (status = 404, body = shared::ErrorBody)))]
pub async fn get_sar(
    auth: Authorized<need::SarRead>,
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(sars::get(&state.db, Scoped::of(&auth), &id).await?))
}

/// Create a draft SAR for a case of the same environment.
#[utoipa::path(post, path = "/v2/sars", tag = "sars", request_body = CreateSar, security(("bearer" = ["sar:write"])),
    responses((status = 201, body = SarView), (status = 422, body = shared::ErrorBody)))]
pub async fn create_sar(
    auth: Authorized<need::SarWrite>,
    state: Data<AppState>,
    body: Json<CreateSar>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(
        sars::create(
            &state.db,
            Scoped::of(&auth),
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Edit a draft; submitted SARs are immutable (409).
#[utoipa::path(patch, path = "/v2/sars/{id}", tag = "sars", params(("id" = String, Path)), request_body = PatchSar,
    security(("bearer" = ["sar:write"])),
    responses((status = 200, body = SarView), (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody)))]
pub async fn patch_sar(
    auth: Authorized<need::SarWrite>,
    state: Data<AppState>,
    id: Path<String>,
    body: Json<PatchSar>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        sars::patch(
            &state.db,
            Scoped::of(&auth),
            &id,
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Submit a draft for review.
#[utoipa::path(post, path = "/v2/sars/{id}/submit", tag = "sars", params(("id" = String, Path)), security(("bearer" = ["sar:write"])),
    responses((status = 200, body = SarView), (status = 404, body = shared::ErrorBody), (status = 409, body = shared::ErrorBody)))]
pub async fn submit_sar(
    auth: Authorized<need::SarWrite>,
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(sars::submit(&state.db, Scoped::of(&auth), &id, now_micros()).await?))
}

/// List watchlist entries.
#[utoipa::path(get, path = "/v2/watchlist", tag = "watchlist", params(PageQuery), security(("bearer" = ["watchlist:read"])),
    responses((status = 200, description = "`{data: [Entry], pagination}`", body = Vec<EntryView>)))]
pub async fn list_watchlist(
    auth: Authorized<need::WatchlistRead>,
    state: Data<AppState>,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(watchlist::list(&state.db, Scoped::of(&auth), q.into_inner()).await?))
}

/// One watchlist entry.
#[utoipa::path(get, path = "/v2/watchlist/{id}", tag = "watchlist", params(("id" = String, Path)), security(("bearer" = ["watchlist:read"])),
    responses((status = 200, body = EntryView), (status = 404, body = shared::ErrorBody)))]
pub async fn get_watchlist(
    auth: Authorized<need::WatchlistRead>,
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(watchlist::get(&state.db, Scoped::of(&auth), &id).await?))
}

/// Screen a name against the watchlist: tolerant of case, accents, word order and small misspellings.
#[utoipa::path(post, path = "/v2/watchlist/screen", tag = "watchlist", request_body = ScreenRequest, security(("bearer" = ["watchlist:read"])),
    responses((status = 200, body = ScreenResponse), (status = 422, body = shared::ErrorBody)))]
pub async fn screen(
    auth: Authorized<need::WatchlistRead>,
    state: Data<AppState>,
    body: Json<ScreenRequest>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        watchlist::screen(
            &state.db,
            Scoped::of(&auth),
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Add a watchlist entry.
#[utoipa::path(post, path = "/v2/watchlist", tag = "watchlist", request_body = CreateEntry, security(("bearer" = ["watchlist:write"])),
    responses((status = 201, body = EntryView), (status = 422, body = shared::ErrorBody)))]
pub async fn create_watchlist(
    auth: Authorized<need::WatchlistWrite>,
    state: Data<AppState>,
    body: Json<CreateEntry>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(
        watchlist::create(
            &state.db,
            Scoped::of(&auth),
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Change a watchlist entry.
#[utoipa::path(patch, path = "/v2/watchlist/{id}", tag = "watchlist", params(("id" = String, Path)), request_body = PatchEntry,
    security(("bearer" = ["watchlist:write"])),
    responses((status = 200, body = EntryView), (status = 404, body = shared::ErrorBody), (status = 422, body = shared::ErrorBody)))]
pub async fn patch_watchlist(
    auth: Authorized<need::WatchlistWrite>,
    state: Data<AppState>,
    id: Path<String>,
    body: Json<PatchEntry>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        watchlist::patch(
            &state.db,
            Scoped::of(&auth),
            &id,
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Remove a watchlist entry.
#[utoipa::path(delete, path = "/v2/watchlist/{id}", tag = "watchlist", params(("id" = String, Path)), security(("bearer" = ["watchlist:write"])),
    responses((status = 204, description = "Deleted"), (status = 404, body = shared::ErrorBody)))]
pub async fn delete_watchlist(
    auth: Authorized<need::WatchlistWrite>,
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    watchlist::delete(&state.db, Scoped::of(&auth), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List subjects.
#[utoipa::path(get, path = "/v2/subjects", tag = "subjects", params(PageQuery), security(("bearer" = ["subjects:read"])),
    responses((status = 200, description = "`{data: [Subject], pagination}`", body = Vec<SubjectView>)))]
pub async fn list_subjects(
    auth: Authorized<need::SubjectsRead>,
    state: Data<AppState>,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    Ok(
        HttpResponse::Ok()
            .json(subjects::list(&state.db, Scoped::of(&auth), q.into_inner()).await?),
    )
}

/// A subject's profile with its risk score and level.
#[utoipa::path(get, path = "/v2/subjects/{id}", tag = "subjects", params(("id" = String, Path)), security(("bearer" = ["subjects:read"])),
    responses((status = 200, body = SubjectView), (status = 404, body = shared::ErrorBody)))]
pub async fn get_subject(
    auth: Authorized<need::SubjectsRead>,
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(subjects::get(&state.db, Scoped::of(&auth), &id).await?))
}

/// Create a subject; its risk is scored at once.
#[utoipa::path(post, path = "/v2/subjects", tag = "subjects", request_body = CreateSubject, security(("bearer" = ["subjects:write"])),
    responses((status = 201, body = SubjectView), (status = 422, body = shared::ErrorBody)))]
pub async fn create_subject(
    auth: Authorized<need::SubjectsWrite>,
    state: Data<AppState>,
    body: Json<CreateSubject>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(
        subjects::create(
            &state.db,
            Scoped::of(&auth),
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}

/// Change a subject; its risk is scored again.
#[utoipa::path(patch, path = "/v2/subjects/{id}", tag = "subjects", params(("id" = String, Path)), request_body = PatchSubject,
    security(("bearer" = ["subjects:write"])),
    responses((status = 200, body = SubjectView), (status = 404, body = shared::ErrorBody), (status = 409, description = "Changed concurrently while it was being screened; retry", body = shared::ErrorBody),
        (status = 422, body = shared::ErrorBody)))]
pub async fn patch_subject(
    auth: Authorized<need::SubjectsWrite>,
    state: Data<AppState>,
    id: Path<String>,
    body: Json<PatchSubject>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        subjects::patch(
            &state.db,
            Scoped::of(&auth),
            &id,
            body.into_inner(),
            now_micros(),
        )
        .await?,
    ))
}
