//! The `/v2` operations: validation into typed values, the rules of each record, and the
//! database calls, run through [`shared::db::Db::run`]. Handlers call these and map the result.

pub mod activity;
pub mod cases;
pub mod idempotency;
pub mod records;
pub mod sars;
pub mod subjects;
pub mod watchlist;
pub mod webhooks;

pub use shared::time::now_micros;

use std::str::FromStr;

use crate::error::{Error, Result};

/// A query filter of a closed set (`status`, `priority`, `severity`, …): `None` when absent; a
/// value that is not one of `allowed` is a 400 `invalid_query` listing them.
pub(crate) fn filter_of<T: FromStr>(
    parameter: &'static str,
    value: &Option<String>,
    allowed: &'static [&'static str],
) -> Result<Option<T>> {
    value
        .as_deref()
        .map(|s| {
            s.parse()
                .map_err(|_| Error::QueryValue { parameter, allowed })
        })
        .transpose()
}
