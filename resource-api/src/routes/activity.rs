//! `/v2/transactions` and `/v2/alerts`.

use actix_web::web::{Data, Query};
use actix_web::HttpResponse;

use super::AppState;
use crate::auth::{need, Authorized};
use crate::db::Scoped;
use crate::domain::Page;
use crate::error::Result;
use crate::service::activity::{self, AlertQuery, AlertView, TransactionQuery, TransactionView};

/// Transactions (filters `subject_id`, `from`, `to`), newest first.
#[utoipa::path(get, path = "/v2/transactions", tag = "activity", params(TransactionQuery), security(("bearer" = ["transactions:read"])),
    responses((status = 200, description = "A page of transactions, newest first", body = Page<TransactionView>), (status = 400, body = shared::ErrorBody)))]
pub async fn transactions(
    auth: Authorized<need::TransactionsRead>,
    state: Data<AppState>,
    q: Query<TransactionQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(activity::transactions(&state.db, Scoped::of(&auth), q.into_inner()).await?))
}

/// Alerts (filters `status`, `severity`, `subject_id`), newest first.
#[utoipa::path(get, path = "/v2/alerts", tag = "activity", params(AlertQuery), security(("bearer" = ["alerts:read"])),
    responses((status = 200, description = "A page of alerts, newest first", body = Page<AlertView>), (status = 400, body = shared::ErrorBody)))]
pub async fn alerts(
    auth: Authorized<need::AlertsRead>,
    state: Data<AppState>,
    q: Query<AlertQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(activity::alerts(&state.db, Scoped::of(&auth), q.into_inner()).await?))
}
