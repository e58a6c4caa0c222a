//! Configuration from the environment (and `.env`).

use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    pub db_pool_size: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

impl Config {
    /// Reads `API_BIND`, `DATABASE_URL`.
    pub fn from_env() -> Result<Config, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let raw = var("API_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = raw.trim().parse().map_err(|_| ConfigError {
            var: "API_BIND",
            message: format!("`{raw}` is not an address like 127.0.0.1:8080"),
        })?;
        let database_url =
            var("DATABASE_URL").unwrap_or_else(|| "sqlite://caseforge.db".to_owned());
        shared::db::DatabaseTarget::parse(&database_url).map_err(|e| ConfigError {
            var: "DATABASE_URL",
            message: e.to_string(),
        })?;
        Ok(Config {
            bind,
            database_url,
            db_pool_size: 8,
        })
    }
}
