//! The `/v2` operations: validation into typed values, the rules of each record, and the
//! database calls, run through [`shared::db::Db::run`]. Handlers call these and map the result.

pub mod activity;
pub mod cases;
pub mod idempotency;
pub mod sars;
pub mod subjects;
pub(crate) mod versioned;
pub mod watchlist;

use diesel::Connection;
use shared::db::{DbConnection, DbError};

use crate::error::Error;

pub use shared::time::now_micros;

/// Runs `f` and turns a domain error inside a transaction into the outer error.
pub(crate) fn flatten<T>(
    r: Result<Result<T, crate::error::Error>, shared::db::DbError>,
) -> Result<T, crate::error::Error> {
    r.map_err(crate::error::Error::from)?
}

/// Runs `f` in one transaction that rolls back on any error, domain errors included. Database
/// errors come out as the outer error, so that [`shared::db::Db::run`] can retry lock and
/// serialization failures; domain errors as the inner one.
pub(crate) fn in_transaction<T>(
    c: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> diesel::QueryResult<Result<T, Error>> {
    match c.transaction(f) {
        Ok(v) => Ok(Ok(v)),
        Err(Error::Db(DbError::Query(e))) => Err(e),
        Err(e) => Ok(Err(e)),
    }
}
