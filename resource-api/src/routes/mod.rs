//! Thin `/v2` handlers: the scope each needs is in its signature (`Authorized<need::…>`);
//! each extracts, calls the service and maps. Registered in `startup.rs`.

pub mod activity;
pub mod cases;
pub mod health;
pub mod me;
pub mod records;

use shared::db::Db;

pub struct AppState {
    pub db: Db,
}
