//! The admin API (contract §3.4): applications and API keys, behind `ADMIN_TOKEN`.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes, Json, Path, Query};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{Error, Result};
use crate::service::api_keys::{self, ApiKeyView, ApiKeyWithSecret, CreateApiKey};
use crate::service::applications::{
    self, ApplicationView, ApplicationWithSecret, CreateApplication, PatchApplication, RotateSecret,
};
use crate::service::audit::{self, AuditContext, AuditEventView, AuditFilter};
use crate::service::now_micros;

/// `{"data": [...]}`: every admin list.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// Proof that the request carried `Authorization: Bearer $ADMIN_TOKEN`, with the audit context
/// of the request (actor `admin-token`, source address). When `ADMIN_TOKEN` is unset every
/// admin request fails.
pub struct Admin(pub AuditContext);

impl FromRequest for Admin {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Admin>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { check_admin(&req).await })
    }
}

/// A correct admin token is always accepted (the comparison is cheap, so there is nothing to
/// protect by refusing it); wrong ones are counted per source address and, past a burst, answered
/// 429 instead of 401, which bounds online guessing of the token, and reach the audit trail
/// aggregated (`admin.token_refused`).
async fn check_admin(req: &HttpRequest) -> Result<Admin> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(Error::AdminUnauthorized)?;
    let source = shared::client_addr::client_ip(req).to_string();
    if admin_token_matches(req, state) {
        return Ok(Admin(AuditContext::admin_token(
            &state.audit_key,
            Some(source),
        )));
    }
    if req.headers().contains_key(header::AUTHORIZATION) {
        // A token was presented and is wrong: a refused privileged action, in the trail as one
        // event per source and window with a count (never the token).
        state
            .refusals
            .note(crate::service::audit::ADMIN_TOKEN_REFUSED, &source, "");
    }
    match state.admin_failures.take(&source, Instant::now()).await {
        Ok(()) => Err(Error::AdminUnauthorized),
        Err(retry_after) => Err(Error::AdminThrottled { retry_after }),
    }
}

fn admin_token_matches(req: &HttpRequest, state: &AppState) -> bool {
    let Some(expected) = state.config.admin_token.as_ref() else {
        return false;
    };
    let Some(presented) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    // Comparing digests keeps the comparison constant-time and hides the token's length.
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.expose().as_bytes());
    shared::secret::ct_eq(&a, &b)
}

/// Register an application. The `client_secret` is shown only in this answer.
#[utoipa::path(post, path = "/admin/applications", operation_id = "admin_applications_create", tag = "admin", request_body = CreateApplication,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Created; the secret is shown once", body = ApplicationWithSecret),
        (status = 422, description = "validation_failed", body = shared::ErrorBody)))]
pub async fn create_application(
    admin: Admin,
    state: web::Data<AppState>,
    body: Json<CreateApplication>,
) -> Result<HttpResponse> {
    let new = body.into_inner().validate()?;
    let created = applications::create(&state.db, &admin.0, new, now_micros()).await?;
    tracing::info!("application {} created", created.application.client_id);
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(created))
}

/// List applications.
#[utoipa::path(get, path = "/admin/applications", operation_id = "admin_applications_list", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "Every application, newest first", body = List<ApplicationView>)))]
pub async fn list_applications(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse> {
    let data = applications::list(&state.db, &Default::default()).await?;
    Ok(HttpResponse::Ok().json(List { data }))
}

/// One application.
#[utoipa::path(get, path = "/admin/applications/{client_id}", operation_id = "admin_applications_retrieve", tag = "admin", security(("admin_token" = [])),
    params(("client_id" = String, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = shared::ErrorBody)))]
pub async fn get_application(
    _: Admin,
    state: web::Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(applications::get(&state.db, &id).await?))
}

/// Change name, description, scopes, tier or disabled.
#[utoipa::path(patch, path = "/admin/applications/{client_id}", operation_id = "admin_applications_update", tag = "admin", request_body = PatchApplication,
    security(("admin_token" = [])), params(("client_id" = String, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = shared::ErrorBody),
        (status = 422, body = shared::ErrorBody)))]
pub async fn patch_application(
    admin: Admin,
    state: web::Data<AppState>,
    id: Path<String>,
    body: Json<PatchApplication>,
) -> Result<HttpResponse> {
    let view = applications::patch(
        &state.db,
        &admin.0,
        &id,
        body.into_inner(),
        applications::ChangedBy::Admin,
        now_micros(),
    )
    .await?;
    tracing::info!("application {} updated", view.client_id);
    Ok(HttpResponse::Ok().json(view))
}

/// Issue a new secret. The old one works for `grace_period_seconds`, or — when that is
/// omitted — until the new one is first used (at most 7 days), so a lost answer never locks the
/// application out. `revoke_tokens: true` also refuses every token issued before now.
#[utoipa::path(post, path = "/admin/applications/{client_id}/rotate-secret", operation_id = "admin_applications_rotate_secret", tag = "admin",
    request_body(content = Option<RotateSecret>), security(("admin_token" = [])), params(("client_id" = String, Path)),
    responses((status = 200, body = ApplicationWithSecret), (status = 404, body = shared::ErrorBody),
        (status = 409, description = "Rotated concurrently by another request; nothing changed", body = shared::ErrorBody),
        (status = 422, body = shared::ErrorBody)))]
pub async fn rotate_secret(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse> {
    let input: RotateSecret = shared::http::parse_optional_json(&req, &body).map_err(Error::Api)?;
    let rotated =
        applications::rotate_secret(&state.db, &admin.0, &id, input, now_micros()).await?;
    tracing::info!(
        "application {} secret rotated",
        rotated.application.client_id
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(rotated))
}

/// Refuse every token issued to the application before now (e.g. after a leaked secret). The
/// resource API refuses them within the revocation bound; introspection says inactive at once.
#[utoipa::path(post, path = "/admin/applications/{client_id}/revoke-tokens", operation_id = "admin_applications_revoke_tokens", tag = "admin",
    security(("admin_token" = [])), params(("client_id" = String, Path)),
    responses((status = 204, description = "Every earlier token is revoked"),
        (status = 404, body = shared::ErrorBody)))]
pub async fn revoke_tokens(
    admin: Admin,
    state: web::Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    applications::revoke_tokens(&state.db, &admin.0, &id, now_micros()).await?;
    tracing::info!("application {} tokens revoked", id.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// Delete an application; its tokens stop working.
#[utoipa::path(delete, path = "/admin/applications/{client_id}", operation_id = "admin_applications_delete", tag = "admin", security(("admin_token" = [])),
    params(("client_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = shared::ErrorBody)))]
pub async fn delete_application(
    admin: Admin,
    state: web::Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    applications::delete(&state.db, &admin.0, &id, now_micros()).await?;
    tracing::info!("application {} deleted", id.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// Create an API key. The `key` is shown only in this answer.
#[utoipa::path(post, path = "/admin/api-keys", operation_id = "admin_api_keys_create", tag = "admin", request_body = CreateApiKey,
    security(("admin_token" = [])),
    responses((status = 201, body = ApiKeyWithSecret),
        (status = 422, description = "validation_failed", body = shared::ErrorBody)))]
pub async fn create_api_key(
    admin: Admin,
    state: web::Data<AppState>,
    body: Json<CreateApiKey>,
) -> Result<HttpResponse> {
    let now = now_micros();
    let new = body.into_inner().validate(now)?;
    let created = api_keys::create(&state.db, &admin.0, new, now).await?;
    tracing::info!("api key {} created", created.api_key.id);
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(created))
}

/// List API keys, newest first.
#[utoipa::path(get, path = "/admin/api-keys", operation_id = "admin_api_keys_list", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "Every API key, newest first", body = List<ApiKeyView>)))]
pub async fn list_api_keys(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse> {
    let data = api_keys::list(&state.db, &Default::default()).await?;
    Ok(HttpResponse::Ok().json(List { data }))
}

/// One API key.
#[utoipa::path(get, path = "/admin/api-keys/{id}", operation_id = "admin_api_keys_retrieve", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = shared::ErrorBody)))]
pub async fn get_api_key(
    _: Admin,
    state: web::Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(api_keys::get(&state.db, &id).await?))
}

/// Revoke an API key.
#[utoipa::path(delete, path = "/admin/api-keys/{id}", operation_id = "admin_api_keys_revoke", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = shared::ErrorBody)))]
pub async fn revoke_api_key(
    admin: Admin,
    state: web::Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse> {
    api_keys::revoke(&state.db, &admin.0, &id, now_micros()).await?;
    tracing::info!("api key {} revoked", id.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// The query of `GET /admin/audit-events` and its export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Operator id, `admin-token`, the OS account of a CLI run, a client id, or `system`.
    pub actor: Option<String>,
    /// e.g. `api_key.create`.
    pub action: Option<String>,
    /// The id acted on (`app_…`, `key_…`, a `kid`, an operator id).
    pub target: Option<String>,
    /// RFC 3339; events at or after.
    pub from: Option<String>,
    /// RFC 3339; events before.
    pub to: Option<String>,
    /// Events with a lower `seq` (from `pagination.next_before`).
    pub before: Option<i64>,
    /// 1–1000, default 100.
    pub limit: Option<i64>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter> {
        AuditFilter::parse(
            self.actor.as_deref(),
            self.action.as_deref(),
            self.target.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
        )
    }
}

/// Where the next (older) page starts: `None` on the last page.
#[derive(Serialize, ToSchema)]
pub struct AuditPagination {
    pub limit: i64,
    /// Pass as `before` for the next page.
    #[schema(required = true)]
    pub next_before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditEventView>,
    pub pagination: AuditPagination,
}

/// The audit trail, newest first: every credential and operator event from the admin API, the
/// CLI and the console. Filters combine; `before` pages back through older events.
#[utoipa::path(get, path = "/admin/audit-events", operation_id = "admin_audit_events_list", tag = "admin", security(("admin_token" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage),
        (status = 400, description = "invalid_query", body = shared::ErrorBody),
        (status = 422, description = "validation_failed", body = shared::ErrorBody)))]
pub async fn list_audit_events(
    _: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: Query<AuditQuery>,
) -> Result<HttpResponse> {
    let filter = q.filter()?;
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(_) => return Err(Error::validation("limit", "must be from 1 to 1000")),
    };
    if q.before.is_some_and(|b| b < 1) {
        return Err(Error::validation("before", "must be at least 1"));
    }
    // One more than asked tells whether an older page exists.
    let mut data = audit::list(&state.db, &filter, q.before, limit + 1).await?;
    let next_before = if data.len() as i64 > limit {
        data.truncate(limit as usize);
        data.last().map(|e| e.seq)
    } else {
        None
    };
    let mut resp = HttpResponse::Ok();
    if let Some(before) = next_before {
        let mut pairs: Vec<(&str, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        pairs.retain(|(k, _)| *k != "before");
        pairs.push(("before", before.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        resp.insert_header((
            header::LINK,
            format!("<{}?{query}>; rel=\"next\"", req.path()),
        ));
    }
    Ok(resp.json(AuditPage {
        data,
        pagination: AuditPagination { limit, next_before },
    }))
}

/// The audit trail as JSON lines (`application/x-ndjson`), oldest first, with the same filters
/// (`before` and `limit` do not apply): one event per line, for examiners. Streamed in batches,
/// so any length is served in bounded memory.
#[utoipa::path(get, path = "/admin/audit-events/export", operation_id = "admin_audit_events_export", tag = "admin", security(("admin_token" = [])),
    params(AuditQuery),
    responses((status = 200, description = "One event per line", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "invalid_query", body = shared::ErrorBody),
        (status = 422, description = "validation_failed", body = shared::ErrorBody)))]
pub async fn export_audit_events(
    _: Admin,
    state: web::Data<AppState>,
    q: Query<AuditQuery>,
) -> Result<HttpResponse> {
    let filter = q.filter()?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(audit::export(state.db.clone(), filter)))
}
