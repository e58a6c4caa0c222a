//! `/v2/transactions` and `/v2/alerts`.

use actix_web::web::Data;
use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::{need, Authorized};
use crate::db::EnvDb;
use crate::domain::Page;
use crate::error::Result;
use crate::pagination::Lists;
use crate::service::activity::{self, AlertQuery, AlertView, TransactionQuery, TransactionView};

/// Transactions (filters `subject_id`, `from`, `to`), newest first.
#[utoipa::path(get, path = "/v2/transactions", operation_id = "transactions_list", tag = "transactions", params(TransactionQuery), security(("bearer" = ["transactions:read"])),
    responses((status = 200, description = "A page of transactions, newest first", body = Page<TransactionView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page"))), (status = 400, body = shared::ErrorBody)))]
pub async fn transactions(
    _: Authorized<need::TransactionsRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<TransactionQuery>,
) -> Result<HttpResponse> {
    let page = activity::transactions(&repo, &lists, q.into_inner()).await?;
    Ok(page.respond(&req, &lists))
}

/// Alerts (filters `status`, `severity`, `subject_id`), newest first.
#[utoipa::path(get, path = "/v2/alerts", operation_id = "alerts_list", tag = "alerts", params(AlertQuery), security(("bearer" = ["alerts:read"])),
    responses((status = 200, description = "A page of alerts, newest first", body = Page<AlertView>, headers(("Link" = String, description = "`<URL with ?cursor=…>; rel=\"next\"` (RFC 8288) when there is a next page"))), (status = 400, body = shared::ErrorBody)))]
pub async fn alerts(
    _: Authorized<need::AlertsRead>,
    repo: EnvDb,
    lists: Data<Lists>,
    req: HttpRequest,
    q: Query<AlertQuery>,
) -> Result<HttpResponse> {
    let page = activity::alerts(&repo, &lists, q.into_inner()).await?;
    Ok(page.respond(&req, &lists))
}
