//! `/v2/transactions` and `/v2/alerts`.

use actix_web::web::Query;
use actix_web::HttpResponse;

use crate::auth::{need, Authorized};
use crate::db::EnvDb;
use crate::domain::Page;
use crate::error::Result;
use crate::service::activity::{self, AlertQuery, AlertView, TransactionQuery, TransactionView};

/// Transactions (filters `subject_id`, `from`, `to`), newest first.
#[utoipa::path(get, path = "/v2/transactions", tag = "activity", params(TransactionQuery), security(("bearer" = ["transactions:read"])),
    responses((status = 200, description = "A page of transactions, newest first", body = Page<TransactionView>), (status = 400, body = shared::ErrorBody)))]
pub async fn transactions(
    _: Authorized<need::TransactionsRead>,
    repo: EnvDb,
    q: Query<TransactionQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(activity::transactions(&repo, q.into_inner()).await?))
}

/// Alerts (filters `status`, `severity`, `subject_id`), newest first.
#[utoipa::path(get, path = "/v2/alerts", tag = "activity", params(AlertQuery), security(("bearer" = ["alerts:read"])),
    responses((status = 200, description = "A page of alerts, newest first", body = Page<AlertView>), (status = 400, body = shared::ErrorBody)))]
pub async fn alerts(
    _: Authorized<need::AlertsRead>,
    repo: EnvDb,
    q: Query<AlertQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(activity::alerts(&repo, q.into_inner()).await?))
}
