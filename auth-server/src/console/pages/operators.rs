//! `/console/operators` (admins only): list, create, change role, disable / enable.
//! Written against `service::operators` at the merge with h-accounts.

use actix_web::web::{self, Bytes, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::denied;
use crate::console::policy::{self, Page};
use crate::console::{ConsoleError, SignedIn};
use crate::routes::AppState;

type PageResult = Result<HttpResponse, ConsoleError>;

pub async fn list(signed: SignedIn, _state: web::Data<AppState>) -> PageResult {
    policy::page(signed.operator.role, Page::Operators).map_err(denied)?;
    Err(ConsoleError::NotFound)
}

pub async fn create(_req: HttpRequest, signed: SignedIn, _body: Bytes) -> PageResult {
    policy::write(signed.operator.role, Page::Operators).map_err(denied)?;
    Err(ConsoleError::NotFound)
}

pub async fn set_role(signed: SignedIn, _id: Path<String>, _body: Bytes) -> PageResult {
    policy::write(signed.operator.role, Page::Operators).map_err(denied)?;
    Err(ConsoleError::NotFound)
}

pub async fn disable(signed: SignedIn, _id: Path<String>, _body: Bytes) -> PageResult {
    policy::write(signed.operator.role, Page::Operators).map_err(denied)?;
    Err(ConsoleError::NotFound)
}

pub async fn enable(signed: SignedIn, _id: Path<String>, _body: Bytes) -> PageResult {
    policy::write(signed.operator.role, Page::Operators).map_err(denied)?;
    Err(ConsoleError::NotFound)
}
