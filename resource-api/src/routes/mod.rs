//! Thin `/v2` handlers: the scope each needs is in its signature (`Authorized<need::…>`);
//! each extracts, calls the service and maps. Registered in `startup.rs`.
//!
//! Invariants:
//! - No handler runs SQL. Handlers call `service/`, whose queries (`db/`) run inside
//!   `Db::run`/`Db::transaction` on the blocking pool. The one exception is the readiness
//!   probe (`health.rs`), whose `Db::ping` runs `SELECT 1`.
//! - A handler that reads or writes records gets the database only as an
//!   [`EnvDb`](crate::db::EnvDb) extractor, bound to the environment of the request's verified
//!   principal; none builds a `Scoped` itself.

pub mod activity;
pub mod cases;
pub mod health;
pub mod me;
pub mod sars;
pub mod subjects;
pub mod watchlist;
pub mod webhooks;

use shared::db::Db;

pub struct AppState {
    pub db: Db,
}
