//! Configuration from the environment (and `.env`), validated once at start.

use std::net::SocketAddr;
use std::time::Duration;

pub use shared::config::ConfigError;
use shared::config::{
    parse_bind, parse_cors_allowed_origins, parse_issuer, parse_metrics_bind, parse_number, var,
};

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// The authorization server: `iss` of accepted tokens, and where the JWKS is.
    pub issuer: String,
    /// The only `aud` accepted.
    pub audience: String,
    pub db_pool_size: u32,
    /// `METRICS_BIND`: when set, `/metrics` is served only there (port 0 picks a free port),
    /// and the main port answers 404 for it.
    pub metrics_bind: Option<SocketAddr>,
    /// `CORS_ALLOWED_ORIGINS`: exact origins browsers may call from; empty disables CORS.
    pub cors_allowed_origins: Vec<String>,
    /// How often credential changes (revocations, disabled apps, revoked keys) are read.
    pub credential_poll: Duration,
    /// How often `last_used_at` of API keys is written.
    pub last_used_flush: Duration,
}

impl Config {
    /// Reads `API_BIND`, `DATABASE_URL`, `AUTH_ISSUER`, `API_AUDIENCE`, `DB_POOL_SIZE`,
    /// `METRICS_BIND`, `CORS_ALLOWED_ORIGINS`.
    pub fn from_env() -> Result<Config, ConfigError> {
        let bind = parse_bind(
            "API_BIND",
            &var("API_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
        )?;
        let database_url =
            var("DATABASE_URL").unwrap_or_else(|| "sqlite://caseforge.db".to_owned());
        shared::db::DatabaseTarget::parse(&database_url)
            .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
        let issuer = parse_issuer(
            &var("AUTH_ISSUER").unwrap_or_else(|| "http://127.0.0.1:8081".to_owned()),
        )?;
        let audience = var("API_AUDIENCE").unwrap_or_else(|| "caseforge-api".to_owned());
        let db_pool_size = match var("DB_POOL_SIZE") {
            None => 8,
            Some(v) => parse_number("DB_POOL_SIZE", &v, 1..=256)?,
        };
        let metrics_bind = parse_metrics_bind()?;
        let cors_allowed_origins = parse_cors_allowed_origins()?;
        Ok(Config {
            bind,
            database_url,
            issuer,
            audience,
            db_pool_size,
            metrics_bind,
            cors_allowed_origins,
            credential_poll: Duration::from_secs(1),
            last_used_flush: Duration::from_secs(30),
        })
    }
}
