//! Configuration from the environment (and `.env`), validated once at start.

use std::net::SocketAddr;

pub use shared::config::ConfigError;
use shared::config::{
    parse_bind, parse_cors_allowed_origins, parse_issuer, parse_metrics_bind, parse_number, var,
};
use shared::Secret;

use crate::service::kek::Kek;

/// Everything the server needs to run. Tests build it directly; `from_env` builds it for the
/// binary.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    pub database_url: String,
    /// `iss` of every token, without a trailing slash.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    /// Bearer secret of the admin API; `None` makes every admin call 401.
    pub admin_token: Option<Secret>,
    /// bcrypt work factor for client secrets.
    pub bcrypt_cost: u32,
    /// How often each replica re-reads signing keys from the database (2 s: a key revoked by
    /// `keys revoke` stops verifying in introspection within the revocation bound).
    pub key_refresh_secs: u64,
    /// Database pool size.
    pub db_pool_size: u32,
    /// `SIGNING_KEY_ENCRYPTION_KEY`: seals private signing keys at rest. Serving (and `keys`
    /// commands) refuse to run without it.
    pub signing_key_encryption_key: Option<Kek>,
    /// `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS`: during a KEK rotation, the old KEK; keys sealed
    /// with it are opened and re-sealed with the current one.
    pub previous_signing_key_encryption_key: Option<Kek>,
    /// How many bcrypt verifications may run at once (`BCRYPT_CONCURRENCY`); the rest wait, so
    /// a flood of uncached or wrong secrets cannot take every core from token issuance.
    pub bcrypt_concurrency: u32,
    /// `METRICS_BIND`: when set, `/metrics` is served only there (port 0 picks a free port),
    /// and the main port answers 404 for it.
    pub metrics_bind: Option<SocketAddr>,
    /// `CORS_ALLOWED_ORIGINS`: exact origins browsers may call from; empty disables CORS.
    pub cors_allowed_origins: Vec<String>,
}

/// `ADMIN_TOKEN` must be at least this long: it guards every credential.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Half the cores, at least one: bcrypt never takes the whole machine.
pub fn default_bcrypt_concurrency() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cores / 2).unwrap_or(1).max(1)
}

fn parse_kek(var: &'static str) -> Result<Option<Kek>, ConfigError> {
    shared::config::var(var)
        .map(|raw| Kek::parse(&raw).map_err(|m| ConfigError::new(var, m)))
        .transpose()
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8081";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://caseforge.db";
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8081";
pub const DEFAULT_AUDIENCE: &str = "caseforge-api";
/// Cost 11 is ≈ 0.1 s per verify on a 2-core machine: slow for a guesser, and repeat clients
/// skip it through the verified-credential cache.
pub const DEFAULT_BCRYPT_COST: u32 = 11;

impl Config {
    /// Reads `AUTH_BIND`, `DATABASE_URL`, `AUTH_ISSUER`, `API_AUDIENCE`, `ADMIN_TOKEN`,
    /// `BCRYPT_COST`, `BCRYPT_CONCURRENCY`, `DB_POOL_SIZE`, `SIGNING_KEY_ENCRYPTION_KEY`,
    /// `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS`, `METRICS_BIND` and `CORS_ALLOWED_ORIGINS`.
    pub fn from_env() -> Result<Config, ConfigError> {
        let bind = parse_bind(
            "AUTH_BIND",
            &var("AUTH_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned()),
        )?;
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        shared::db::DatabaseTarget::parse(&database_url)
            .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
        let issuer =
            parse_issuer(&var("AUTH_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_owned()))?;
        let audience = var("API_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned());
        let admin_token = var("ADMIN_TOKEN").map(Secret::new);
        if admin_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().chars().count() < MIN_ADMIN_TOKEN_LEN)
        {
            return Err(ConfigError::new(
                "ADMIN_TOKEN",
                format!(
                    "must be at least {MIN_ADMIN_TOKEN_LEN} characters (generate one with `openssl rand -base64 32`)"
                ),
            ));
        }
        let bcrypt_cost = match var("BCRYPT_COST") {
            None => DEFAULT_BCRYPT_COST,
            Some(v) => parse_number("BCRYPT_COST", &v, 4..=16)?,
        };
        let db_pool_size = match var("DB_POOL_SIZE") {
            None => 8,
            Some(v) => parse_number("DB_POOL_SIZE", &v, 1..=256)?,
        };
        let bcrypt_concurrency = match var("BCRYPT_CONCURRENCY") {
            None => default_bcrypt_concurrency(),
            Some(v) => parse_number("BCRYPT_CONCURRENCY", &v, 1..=256)?,
        };
        let metrics_bind = parse_metrics_bind()?;
        let cors_allowed_origins = parse_cors_allowed_origins()?;
        Ok(Config {
            bind,
            database_url,
            issuer,
            audience,
            admin_token,
            bcrypt_cost,
            key_refresh_secs: 2,
            db_pool_size,
            signing_key_encryption_key: parse_kek("SIGNING_KEY_ENCRYPTION_KEY")?,
            previous_signing_key_encryption_key: parse_kek("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS")?,
            bcrypt_concurrency,
            metrics_bind,
            cors_allowed_origins,
        })
    }
}
