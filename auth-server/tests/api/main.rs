//! Integration tests: the real server on port 0 against a fresh database (a SQLite file, or a
//! fresh PostgreSQL database when `TEST_DATABASE_URL` names a server), over real HTTP.

#![allow(clippy::unwrap_used)]

mod admin;
mod audit;
mod change_feed;
mod cli;
mod console_auth;
mod console_helpers;
mod console_pages;
mod discovery;
mod edge;
mod hardening;
mod helpers;
mod introspect_revoke;
mod oauth2_client;
mod openapi;
mod private_key_jwt;
mod proxies;
mod telemetry;
mod token;
