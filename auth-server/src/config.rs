//! Configuration from the environment (and `.env`), validated once at start.

use std::net::SocketAddr;

use shared::Secret;

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
    /// How often each replica re-reads signing keys from the database.
    pub key_refresh_secs: u64,
    /// Database pool size.
    pub db_pool_size: u32,
}

/// A configuration value that cannot be used. The message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
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
    /// `BCRYPT_COST`, `DB_POOL_SIZE`.
    pub fn from_env() -> Result<Config, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bind = var("AUTH_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind.trim().parse().map_err(|_| {
            err(
                "AUTH_BIND",
                format!("`{bind}` is not an address like 127.0.0.1:8081"),
            )
        })?;
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        shared::db::DatabaseTarget::parse(&database_url)
            .map_err(|e| err("DATABASE_URL", e.to_string()))?;
        let issuer =
            parse_issuer(&var("AUTH_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_owned()))?;
        let audience = var("API_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned());
        let admin_token = var("ADMIN_TOKEN").map(Secret::new);
        let bcrypt_cost = match var("BCRYPT_COST") {
            None => DEFAULT_BCRYPT_COST,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|c| (4..=16).contains(c))
                .ok_or_else(|| err("BCRYPT_COST", "must be a whole number from 4 to 16"))?,
        };
        let db_pool_size = match var("DB_POOL_SIZE") {
            None => 8,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| err("DB_POOL_SIZE", "must be a whole number from 1 to 256"))?,
        };
        Ok(Config {
            bind,
            database_url,
            issuer,
            audience,
            admin_token,
            bcrypt_cost,
            key_refresh_secs: 10,
            db_pool_size,
        })
    }
}

/// The issuer must be an absolute http(s) URL; a trailing slash is dropped so that `iss`
/// compares equal however it was written.
pub fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    let s = raw.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| {
            err(
                "AUTH_ISSUER",
                format!("`{raw}` is not an http:// or https:// URL"),
            )
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || s.contains(char::is_whitespace) || s.contains(['?', '#']) {
        return Err(err(
            "AUTH_ISSUER",
            format!("`{raw}` is not a valid issuer URL"),
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_is_normalised_and_checked() {
        assert_eq!(
            parse_issuer("http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            parse_issuer("https://auth.example.com/cf").unwrap(),
            "https://auth.example.com/cf"
        );
        assert!(parse_issuer("auth.example.com").is_err());
        assert!(parse_issuer("http://").is_err());
        assert!(parse_issuer("http://a b").is_err());
        let e = parse_issuer("ftp://x").unwrap_err();
        assert_eq!(e.var, "AUTH_ISSUER");
    }
}
