//! Integration tests: a real auth-server and a real resource-api on port 0, one fresh database
//! (SQLite, or PostgreSQL when `TEST_DATABASE_URL` names a server), real tokens, real HTTP.

#![allow(clippy::unwrap_used)]

mod auth;
mod cases;
mod client;
mod client_keys;
mod concurrency;
mod dpop;
mod edge;
mod environments;
mod hardening;
mod helpers;
mod lists;
mod openapi;
mod pool;
mod proxies;
mod ratelimit;
mod records;
mod revocation;
mod screening;
mod shutdown;
mod telemetry;
mod tls;
mod webhooks;
