//! The `/v2` operations: validation into typed values, the rules of each record, and the
//! database calls, run through [`shared::db::Db::run`]. Handlers call these and map the result.

pub mod activity;
pub mod cases;
pub mod sars;
pub mod subjects;
pub mod watchlist;

/// Now, in Unix microseconds. Only handlers call this; services take the time as a parameter.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Runs `f` and turns a domain error inside a transaction into the outer error.
pub(crate) fn flatten<T>(
    r: Result<Result<T, crate::error::Error>, shared::db::DbError>,
) -> Result<T, crate::error::Error> {
    r.map_err(crate::error::Error::from)?
}
