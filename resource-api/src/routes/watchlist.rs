//! `/v2/watchlist`.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::web::{Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::{need, Authorized};
use crate::conditional::{respond, IfMatch};
use crate::db::watchlist::WatchlistRow;
use crate::db::EnvDb;
use crate::domain::{Page, PageQuery};
use crate::error::Result;
use crate::pagination::Lists;
use crate::service::idempotency::IdempotencyKey;
use crate::service::now_micros;
use crate::service::records;
use crate::service::watchlist::{
    self, CreateEntry, EntryView, PatchEntry, Scoring, ScreenRequest, ScreenResponse,
};

/// List watchlist entries.
#[utoipa::path(get, path = "/v2/watchlist", operation_id = "watchlist_list", tag = "watchlist", params(PageQuery), security(("bearer" = ["watchlist:read"])),
    responses((status = 200, description = "A page of watchlist entries", body = Page<EntryView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page")))))]
pub async fn list_watchlist(
    _: Authorized<need::WatchlistRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = records::list::<WatchlistRow>(&repo, &lists, (), &q).await?;
    Ok(page.respond(&req, &lists))
}

/// One watchlist entry.
#[utoipa::path(get, path = "/v2/watchlist/{id}", operation_id = "watchlist_retrieve", tag = "watchlist", params(("id" = String, Path)), security(("bearer" = ["watchlist:read"])),
    responses((status = 200, body = EntryView, headers(("ETag" = String, description = "Strong entity tag of this version of the record"))), (status = 404, body = shared::ErrorBody)))]
pub async fn get_watchlist(
    _: Authorized<need::WatchlistRead>,
    repo: EnvDb,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(respond(
        StatusCode::OK,
        &records::get::<WatchlistRow>(&repo, &id).await?,
    ))
}

/// Screen a name against the watchlist: tolerant of case, accents, word order and small misspellings.
#[utoipa::path(post, path = "/v2/watchlist/screen", operation_id = "watchlist_screen", tag = "watchlist", request_body = ScreenRequest, security(("bearer" = ["watchlist:read"])),
    responses((status = 200, body = ScreenResponse), (status = 422, body = shared::ErrorBody),
        (status = 503, description = SCORING_BUSY, body = shared::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before retrying (when every scoring turn was taken)")))))]
pub async fn screen(
    _: Authorized<need::WatchlistRead>,
    repo: EnvDb,
    scoring: Data<Scoring>,
    body: Json<ScreenRequest>,
) -> Result<HttpResponse> {
    let found = watchlist::screen(&repo, &scoring, body.into_inner(), now_micros()).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// The 503 of every operation that scores names against the watchlist.
pub const SCORING_BUSY: &str = "`service_unavailable`: every scoring turn stayed taken for a second (`Retry-After`, `details.retry_after`), or credentials cannot be verified or the database does not answer right now; retry shortly.";

/// Add a watchlist entry.
#[utoipa::path(post, path = "/v2/watchlist", operation_id = "watchlist_create", tag = "watchlist", request_body = CreateEntry, security(("bearer" = ["watchlist:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential")),
    responses((status = 201, body = EntryView, headers(("ETag" = String, description = "Strong entity tag of the new record"), ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, description = "Malformed `Idempotency-Key`", body = shared::ErrorBody), (status = 422, description = "Invalid field, or `idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody)))]
pub async fn create_watchlist(
    auth: Authorized<need::WatchlistWrite>,
    repo: EnvDb,
    key: IdempotencyKey,
    body: Json<CreateEntry>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let idem = key.bind(&auth, "POST /v2/watchlist", &input);
    let created = watchlist::create(&repo, input, idem, now_micros()).await?;
    Ok(created.respond())
}

/// Change a watchlist entry.
#[utoipa::path(patch, path = "/v2/watchlist/{id}", operation_id = "watchlist_update", tag = "watchlist", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), request_body = PatchEntry,
    security(("bearer" = ["watchlist:write"])),
    responses((status = 200, body = EntryView, headers(("ETag" = String, description = "Strong entity tag of the record after the change"))),
        (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody),
        (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody), (status = 422, body = shared::ErrorBody)))]
pub async fn patch_watchlist(
    _: Authorized<need::WatchlistWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    body: Json<PatchEntry>,
) -> Result<HttpResponse> {
    let record = watchlist::patch(&repo, &id, body.into_inner(), if_match, now_micros()).await?;
    Ok(respond(StatusCode::OK, &record))
}

/// Remove a watchlist entry.
#[utoipa::path(delete, path = "/v2/watchlist/{id}", operation_id = "watchlist_delete", tag = "watchlist", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; kept 24 h per credential"), ("If-Match" = Option<String>, Header, description = "`*` or entity tags from `ETag`; the write is made only if the record still has one of them")), security(("bearer" = ["watchlist:write"])),
    responses((status = 204, description = "Deleted (or, with `Idempotency-Key`, the stored answer of the first delete)", headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key"))), (status = 422, description = "`idempotency_key_reused`: the key was used for a different request", body = shared::ErrorBody), (status = 400, description = "Malformed `If-Match`", body = shared::ErrorBody), (status = 404, body = shared::ErrorBody), (status = 412, description = "`precondition_failed`: the record changed since the `If-Match` version; nothing was written", body = shared::ErrorBody)))]
pub async fn delete_watchlist(
    auth: Authorized<need::WatchlistWrite>,
    repo: EnvDb,
    id: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
) -> Result<HttpResponse> {
    let idem = key.bind(&auth, &format!("DELETE /v2/watchlist/{id}"), &());
    Ok(
        match watchlist::delete(&repo, &id, if_match, idem, now_micros()).await? {
            Some(replayed) => replayed.respond(),
            None => HttpResponse::NoContent().finish(),
        },
    )
}
