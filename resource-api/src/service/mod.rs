//! The `/v2` operations: validation into typed values, the rules of each record, and the
//! database calls, run through [`shared::db::Db::run`]. Handlers call these and map the result.

pub mod activity;
pub mod cases;
pub mod idempotency;
pub mod records;
pub mod sars;
pub mod subjects;
pub mod watchlist;

pub use shared::time::now_micros;
