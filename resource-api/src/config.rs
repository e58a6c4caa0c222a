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
    /// `API_PUBLIC_URL`: where clients reach this API (the `servers` entry of `/openapi.json`).
    /// Default: `http://` and `API_BIND`.
    pub public_url: String,
    pub database_url: String,
    /// The authorization server: `iss` of accepted tokens, and where the JWKS is.
    pub issuer: String,
    /// `JWKS_URL`: where the authorization server's keys are fetched. `None`: the `jwks_uri`
    /// of the issuer's RFC 8414 metadata.
    pub jwks_url: Option<String>,
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
    /// Reads `API_BIND`, `API_PUBLIC_URL`, `DATABASE_URL`, `AUTH_ISSUER`, `JWKS_URL`, `API_AUDIENCE`,
    /// `DB_POOL_SIZE`, `METRICS_BIND`, `CORS_ALLOWED_ORIGINS`, and checks `SSL_CERT_FILE`.
    pub fn from_env() -> Result<Config, ConfigError> {
        let bind = parse_bind(
            "API_BIND",
            &var("API_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
        )?;
        let public_url = match var("API_PUBLIC_URL") {
            Some(v) => parse_http_url("API_PUBLIC_URL", &v)?,
            None => format!("http://{bind}"),
        };
        let database_url =
            var("DATABASE_URL").unwrap_or_else(|| "sqlite://caseforge.db".to_owned());
        shared::db::DatabaseTarget::parse(&database_url)
            .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
        let issuer = parse_issuer(
            &var("AUTH_ISSUER").unwrap_or_else(|| "http://127.0.0.1:8081".to_owned()),
        )?;
        let jwks_url = var("JWKS_URL")
            .map(|v| parse_http_url("JWKS_URL", &v))
            .transpose()?;
        shared::outbound::check_trust_store()?;
        let audience = var("API_AUDIENCE").unwrap_or_else(|| "caseforge-api".to_owned());
        let db_pool_size = match var("DB_POOL_SIZE") {
            None => 8,
            Some(v) => parse_number("DB_POOL_SIZE", &v, 1..=256)?,
        };
        let metrics_bind = parse_metrics_bind()?;
        let cors_allowed_origins = parse_cors_allowed_origins()?;
        Ok(Config {
            bind,
            public_url,
            database_url,
            issuer,
            jwks_url,
            audience,
            db_pool_size,
            metrics_bind,
            cors_allowed_origins,
            credential_poll: Duration::from_secs(1),
            last_used_flush: Duration::from_secs(30),
        })
    }
}

/// `JWKS_URL`, `API_PUBLIC_URL`: an absolute http(s) URL with a host, no whitespace and no
/// fragment.
fn parse_http_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    let s = raw.trim();
    let host = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !s.contains(char::is_whitespace) && !s.contains('#') => {
            Ok(s.to_owned())
        }
        _ => {
            let shown: String = s.chars().take(80).collect();
            Err(ConfigError::new(
                name,
                format!("`{shown}` is not an http:// or https:// URL"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_http_url;

    fn parse_jwks_url(raw: &str) -> Result<String, super::ConfigError> {
        parse_http_url("JWKS_URL", raw)
    }

    #[test]
    fn jwks_url_must_be_an_http_url() {
        assert_eq!(
            parse_jwks_url(" http://auth-server:8081/.well-known/jwks.json ").unwrap(),
            "http://auth-server:8081/.well-known/jwks.json"
        );
        assert!(parse_jwks_url("https://a.example/keys?v=1").is_ok());
        for bad in [
            "auth-server:8081/jwks",
            "https://",
            "https:///x",
            "ftp://a/x",
            "https://a/b c",
            "https://a/#x",
        ] {
            let e = parse_jwks_url(bad).unwrap_err();
            assert_eq!(e.var, "JWKS_URL", "{bad}");
        }
    }
}
