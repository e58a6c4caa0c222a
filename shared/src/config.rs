//! Configuration values both services parse the same way: the variables they share
//! ([`Common`]), intervals, `*_FILE` secrets, and [`ConfigErrors`], which collects every bad
//! variable so that an operator sees them all at once, one line each.

use std::time::Duration;

#[cfg(feature = "server")]
use crate::client_addr::TrustedProxies;

/// A configuration value that cannot be used. The message names the variable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            var,
            message: message.into(),
        }
    }
}

/// Every bad variable found while reading the configuration, in the order read.
#[derive(Debug, Clone, Default)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    pub fn new() -> Self {
        ConfigErrors::default()
    }

    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    /// The value, or `None` with the error recorded.
    pub fn check<T>(&mut self, r: Result<T, ConfigError>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    /// The value, or `fallback` with the error recorded (so that reading can go on and find
    /// the next bad variable).
    pub fn or<T>(&mut self, r: Result<T, ConfigError>, fallback: T) -> T {
        self.check(r).unwrap_or(fallback)
    }

    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Writes one line per bad variable to stderr: `<program>: configuration error: VAR: …`.
    pub fn report(&self, program: &str) {
        for e in &self.0 {
            eprintln!("{program}: configuration error: {e}");
        }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// `LOG_FORMAT`: `text` (the default) or `json`, one object a line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(raw: &str) -> Result<LogFormat, ConfigError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(ConfigError::new("LOG_FORMAT", "must be `text` or `json`")),
        }
    }

    pub fn from_env() -> Result<LogFormat, ConfigError> {
        var("LOG_FORMAT").map_or(Ok(LogFormat::Text), |v| LogFormat::parse(&v))
    }
}

/// An interval in whole seconds from `name` (e.g. `CREDENTIAL_POLL_SECS`), `default` when
/// unset, within `range`.
pub fn interval_secs(
    name: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Duration, ConfigError> {
    let secs = match var(name) {
        None => default,
        Some(v) => parse_number(name, &v, range)?,
    };
    Ok(Duration::from_secs(u64::from(secs)))
}

/// A secret from `name` or from the file named by `file_name` (`name` + `_FILE`, as Docker
/// and Kubernetes secrets are mounted): the file's content with one trailing newline removed.
/// Setting both is an error, and so is a file that cannot be read or is empty; the message
/// names the variable and the path, never the content.
pub fn secret_var(
    name: &'static str,
    file_name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (var(name), var(file_name)) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            file_name,
            format!("{name} and {file_name} are both set; set one of them"),
        )),
        (Some(v), None) => Ok(Some(v)),
        (None, None) => Ok(None),
        (None, Some(path)) => {
            let content = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(file_name, format!("cannot read `{path}`: {}", e.kind()))
            })?;
            let value = content
                .strip_suffix('\n')
                .map(|v| v.strip_suffix('\r').unwrap_or(v))
                .unwrap_or(&content);
            if value.trim().is_empty() {
                return Err(ConfigError::new(file_name, format!("`{path}` is empty")));
            }
            Ok(Some(value.to_owned()))
        }
    }
}

/// The variables both services read, parsed the same way: listen address (`bind_var`),
/// `DATABASE_URL` (or `DATABASE_URL_FILE`), `DB_POOL_SIZE`, `AUTH_ISSUER`, `API_AUDIENCE`,
/// `METRICS_BIND`, `CORS_ALLOWED_ORIGINS`, `LOG_FORMAT`, `REDIS_URL`, `DATABASE_LISTEN_URL`
/// and `TRUSTED_PROXIES`.
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub struct Common {
    pub bind: std::net::SocketAddr,
    pub database_url: String,
    pub db_pool_size: u32,
    /// Without a trailing slash.
    pub issuer: String,
    pub audience: String,
    pub metrics_bind: Option<std::net::SocketAddr>,
    pub cors_allowed_origins: Vec<String>,
    /// `REDIS_URL` (or `REDIS_URL_FILE`): `redis://` or `rediss://` (TLS). When set, tier
    /// limits and failure throttles are shared by every replica (`shared::redis_store`).
    pub redis_url: Option<String>,
    /// `DATABASE_LISTEN_URL` (or `DATABASE_LISTEN_URL_FILE`): where the PostgreSQL `LISTEN`
    /// connection of the credential change feed goes (a session-mode address when
    /// `DATABASE_URL` is a transaction-mode pooler). Default: `DATABASE_URL`. `None` on SQLite,
    /// which has no push.
    pub database_listen_url: Option<String>,
    /// `TRUSTED_PROXIES`: the load balancers whose `X-Forwarded-For` or PROXY protocol header
    /// names the client (`shared::client_addr`). Default none: the TCP peer is the client.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// `DPOP_NONCE_KEY` (or `DPOP_NONCE_KEY_FILE`), at least 32 characters, the same on every
    /// replica of both services: when set, every DPoP proof must carry a server nonce
    /// (RFC 9449 §8, §9; `shared::dpop::Nonces`). Unset (the default): no nonces.
    pub dpop_nonce_key: Option<crate::Secret>,
}

#[cfg(feature = "server")]
pub const DEFAULT_DATABASE_URL: &str = "sqlite://caseforge.db";
#[cfg(feature = "server")]
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8081";
#[cfg(feature = "server")]
pub const DEFAULT_AUDIENCE: &str = "caseforge-api";
#[cfg(feature = "server")]
pub const DEFAULT_DB_POOL_SIZE: u32 = 8;

#[cfg(feature = "server")]
impl Common {
    /// Reads the shared variables; each bad one is recorded in `errors` (and a default stands
    /// in for it, so that reading goes on).
    pub fn from_env(
        bind_var: &'static str,
        default_bind: &str,
        errors: &mut ConfigErrors,
    ) -> Common {
        let fallback_bind: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        let bind = errors.or(
            parse_bind(
                bind_var,
                &var(bind_var).unwrap_or_else(|| default_bind.to_owned()),
            ),
            fallback_bind,
        );
        // The URL may hold a password: messages describe it, never quote it.
        let database_url = errors
            .check(secret_var("DATABASE_URL", "DATABASE_URL_FILE"))
            .flatten()
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if let Err(e) = crate::db::DatabaseTarget::parse(&database_url) {
            errors.push(ConfigError::new("DATABASE_URL", e.to_string()));
        }
        let db_pool_size = match var("DB_POOL_SIZE") {
            None => DEFAULT_DB_POOL_SIZE,
            Some(v) => errors.or(
                parse_number("DB_POOL_SIZE", &v, 1..=256),
                DEFAULT_DB_POOL_SIZE,
            ),
        };
        let issuer = errors.or(
            parse_issuer(&var("AUTH_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_owned())),
            DEFAULT_ISSUER.to_owned(),
        );
        let audience = var("API_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned());
        let database_listen_url = errors
            .check(secret_var(
                "DATABASE_LISTEN_URL",
                "DATABASE_LISTEN_URL_FILE",
            ))
            .flatten();
        let database_listen_url = match database_listen_url {
            Some(url) => match crate::db::DatabaseTarget::parse(&url) {
                Ok(crate::db::DatabaseTarget::Postgres(_)) => Some(url),
                Ok(_) => {
                    errors.push(ConfigError::new(
                        "DATABASE_LISTEN_URL",
                        "must be a postgres:// URL (SQLite has no LISTEN)",
                    ));
                    None
                }
                Err(e) => {
                    errors.push(ConfigError::new("DATABASE_LISTEN_URL", e.to_string()));
                    None
                }
            },
            None => matches!(
                crate::db::DatabaseTarget::parse(&database_url),
                Ok(crate::db::DatabaseTarget::Postgres(_))
            )
            .then(|| database_url.clone()),
        };
        // Checked here so that a typo is reported with the rest rather than silently replaced
        // by `info` (logging starts before the configuration is read).
        errors.check(check_rust_log());
        // Read again by `telemetry::init_logging_from_env`, which starts logging before the
        // configuration is read; checked here so that a bad value is reported with the others.
        errors.check(LogFormat::from_env());
        Common {
            bind,
            database_url,
            db_pool_size,
            issuer,
            audience,
            metrics_bind: errors.or(parse_metrics_bind(), None),
            cors_allowed_origins: errors.or(parse_cors_allowed_origins(), Vec::new()),
            redis_url: errors.or(parse_redis_url(), None),
            database_listen_url,
            trusted_proxies: errors.or(parse_trusted_proxies(), TrustedProxies::none()),
            dpop_nonce_key: errors.or(parse_dpop_nonce_key(), None),
        }
    }
}

/// `DPOP_NONCE_KEY` (or `_FILE`): unset, or at least 32 characters.
#[cfg(feature = "server")]
fn parse_dpop_nonce_key() -> Result<Option<crate::Secret>, ConfigError> {
    match secret_var("DPOP_NONCE_KEY", "DPOP_NONCE_KEY_FILE")? {
        None => Ok(None),
        Some(k) if k.len() >= 32 => Ok(Some(crate::Secret::new(k))),
        Some(_) => Err(ConfigError::new(
            "DPOP_NONCE_KEY",
            "must be at least 32 characters (e.g. `openssl rand -base64 32`), the same on every replica",
        )),
    }
}

/// `TRUSTED_PROXIES`: unset or empty is [`TrustedProxies::none`].
#[cfg(feature = "server")]
fn parse_trusted_proxies() -> Result<TrustedProxies, ConfigError> {
    var("TRUSTED_PROXIES").map_or(Ok(TrustedProxies::none()), |v| {
        TrustedProxies::parse(&v).map_err(|m| ConfigError::new("TRUSTED_PROXIES", m))
    })
}

/// `RUST_LOG`, when set, must be a `tracing` filter (`info`, `warn,resource_api=debug`, …).
/// The filter is not a secret: the message quotes the part that does not parse.
#[cfg(feature = "server")]
pub fn check_rust_log() -> Result<(), ConfigError> {
    match var("RUST_LOG") {
        None => Ok(()),
        Some(raw) => parse_rust_log(&raw),
    }
}

#[cfg(feature = "server")]
fn parse_rust_log(raw: &str) -> Result<(), ConfigError> {
    tracing_subscriber::EnvFilter::builder()
        .parse(raw)
        .map(drop)
        .map_err(|e| {
            ConfigError::new(
                "RUST_LOG",
                format!("is not a log filter ({e}); e.g. `info` or `warn,auth_server=debug`"),
            )
        })
}

#[cfg(feature = "server")]
impl Common {
    /// The shared part of a test service's configuration: port 0 on 127.0.0.1, `db_url`
    /// (listened to for changes when it is PostgreSQL), `issuer`, the default audience, a
    /// pool of 4, and nothing else set (no Redis, CORS, `METRICS_BIND` or trusted proxies).
    pub fn for_tests(db_url: &str, issuer: &str) -> Common {
        Common {
            bind: ([127, 0, 0, 1], 0).into(),
            database_url: db_url.to_owned(),
            db_pool_size: 4,
            issuer: issuer.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            metrics_bind: None,
            cors_allowed_origins: Vec::new(),
            redis_url: None,
            database_listen_url: db_url.starts_with("postgres").then(|| db_url.to_owned()),
            trusted_proxies: crate::client_addr::TrustedProxies::none(),
            dpop_nonce_key: None,
        }
    }
}

/// `REDIS_URL` or `REDIS_URL_FILE`: unset means limits are per process. The URL may hold a
/// password: errors never quote it.
#[cfg(feature = "server")]
pub fn parse_redis_url() -> Result<Option<String>, ConfigError> {
    let Some(url) = secret_var("REDIS_URL", "REDIS_URL_FILE")? else {
        return Ok(None);
    };
    let url = url.trim().to_owned();
    let ok_scheme = url.starts_with("redis://") || url.starts_with("rediss://");
    if !ok_scheme || redis::Client::open(url.as_str()).is_err() {
        return Err(ConfigError::new(
            "REDIS_URL",
            "is not a redis:// or rediss:// URL (value not shown)",
        ));
    }
    Ok(Some(url))
}

/// A true/false variable (`true`/`1`/`yes`, `false`/`0`/`no`, any case).
pub fn parse_flag(name: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::new(name, "must be true or false")),
    }
}

/// Reads a variable, treating empty as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `AUTH_ISSUER` must be an absolute http(s) URL; a trailing slash is dropped so that `iss`
/// compares equal however it was written.
pub fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    let s = raw.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError::new(
                "AUTH_ISSUER",
                format!("`{raw}` is not an http:// or https:// URL"),
            )
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || s.contains(char::is_whitespace) || s.contains(['?', '#']) {
        return Err(ConfigError::new(
            "AUTH_ISSUER",
            format!("`{raw}` is not a valid issuer URL"),
        ));
    }
    Ok(s.to_owned())
}

/// Parses a listen address such as `127.0.0.1:8080`.
pub fn parse_bind(var: &'static str, raw: &str) -> Result<std::net::SocketAddr, ConfigError> {
    raw.trim().parse().map_err(|_| {
        ConfigError::new(
            var,
            format!("`{raw}` is not an address like 127.0.0.1:8080"),
        )
    })
}

/// Parses a whole number within `range`.
pub fn parse_number(
    var: &'static str,
    raw: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                var,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// `METRICS_BIND`: unset (or empty) keeps `/metrics` on the main port; an address moves it
/// there.
pub fn parse_metrics_bind() -> Result<Option<std::net::SocketAddr>, ConfigError> {
    var("METRICS_BIND")
        .map(|v| parse_bind("METRICS_BIND", &v))
        .transpose()
}

/// `CORS_ALLOWED_ORIGINS`, parsed by [`parse_origins`]; unset means none.
pub fn parse_cors_allowed_origins() -> Result<Vec<String>, ConfigError> {
    var("CORS_ALLOWED_ORIGINS")
        .map(|v| parse_origins("CORS_ALLOWED_ORIGINS", &v))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// A list of origins such as `CORS_ALLOWED_ORIGINS`: comma-separated exact origins (`https://app.example.com`,
/// `http://localhost:3000`). Each must be what a browser sends in `Origin`: an http(s) scheme,
/// a lower-case host, an optional port, and nothing else, so that a typo cannot silently match
/// nothing (a trailing slash) or everything (`*`).
pub fn parse_origins(var: &'static str, raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !is_origin(item) {
            let shown: String = item.chars().take(80).collect();
            return Err(ConfigError::new(
                var,
                format!("`{shown}` is not an origin like https://app.example.com (scheme, lower-case host, optional port; no path, no `*`)"),
            ));
        }
        if !origins.iter().any(|o| o == item) {
            origins.push(item.to_owned());
        }
    }
    Ok(origins)
}

fn is_origin(s: &str) -> bool {
    let Some(authority) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (host_ok, port) = if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal, as browsers write it: lower-case hex inside brackets.
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        let ok = !inner.is_empty()
            && inner.bytes().all(|b| {
                b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':' || b == b'.'
            });
        (ok, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let ok = !host.is_empty()
            && !host.starts_with(['.', '-'])
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        (ok, port)
    };
    let port_ok = port.is_none_or(|p| {
        !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
    });
    host_ok && port_ok
}

/// Loads `./.env` — the working directory's file only, never a parent directory's (where
/// `dotenvy::dotenv` would also look, picking up a stranger's settings). A missing file is
/// fine; one that cannot be read or parsed is an error naming the file. Variables already set
/// in the environment win.
#[cfg(feature = "server")]
pub fn load_dotenv() -> Result<(), String> {
    load_dotenv_from(std::path::Path::new(".env"))
}

/// As [`load_dotenv`], from `path` (named in messages as `.env`).
#[cfg(feature = "server")]
pub fn load_dotenv_from(path: &std::path::Path) -> Result<(), String> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // The line itself is not shown: it may hold a password. Its number is.
        Err(dotenvy::Error::LineParse(line, _)) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            Err(match line_number_of(&text, &line) {
                Some(n) => format!(".env: line {n} is not KEY=value (its content is not shown)"),
                None => ".env: a line is not KEY=value (its content is not shown)".to_owned(),
            })
        }
        Err(e) => Err(format!(".env: {e}")),
    }
}

/// The 1-based number of the line where dotenvy's failing (logical) line `bad` starts in
/// `text`. dotenvy reports the line's content but not its place.
#[cfg(feature = "server")]
fn line_number_of(text: &str, bad: &str) -> Option<usize> {
    let bad = bad.trim_end_matches(['\n', '\r']);
    if bad.is_empty() {
        return None;
    }
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if text[offset..].starts_with(bad) {
            return Some(i + 1);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_true_or_false_in_a_few_spellings() {
        assert!(parse_flag("X", " Yes ").unwrap());
        assert!(!parse_flag("X", "0").unwrap());
        assert!(parse_flag("X", "maybe").is_err());
    }

    #[test]
    #[cfg(feature = "server")]
    fn a_malformed_env_file_is_reported_with_its_line_number_never_its_content() {
        let dir =
            std::env::temp_dir().join(format!("cf-dotenv-{}", crate::random::random_base62(12)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(
            &path,
            "# a comment\nCF_DOTENV_TEST_A=1\n\nCF_DOTENV_TEST_B=2\nthis is no assignment hunter2\n",
        )
        .unwrap();
        let message = load_dotenv_from(&path).unwrap_err();
        assert!(message.contains("line 5"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[cfg(feature = "server")]
    fn rust_log_must_be_a_filter() {
        assert!(parse_rust_log("info").is_ok());
        assert!(parse_rust_log("warn,resource_api=debug").is_ok());
        let e = parse_rust_log("warn,auth_server=loud").unwrap_err();
        assert_eq!(e.var, "RUST_LOG");
    }

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
        assert_eq!(parse_issuer("ftp://x").unwrap_err().var, "AUTH_ISSUER");
    }

    #[test]
    fn bind_and_numbers() {
        assert!(parse_bind("API_BIND", "127.0.0.1:0").is_ok());
        assert_eq!(
            parse_bind("API_BIND", "localhost").unwrap_err().var,
            "API_BIND"
        );
        assert_eq!(parse_number("N", "5", 1..=10).unwrap(), 5);
        assert!(parse_number("N", "50", 1..=10).is_err());
    }

    #[test]
    fn origins_are_exact_browser_origins() {
        assert_eq!(
            parse_origins(
                "CORS_ALLOWED_ORIGINS",
                " https://app.example.com, http://localhost:3000,,http://[::1]:8080 "
            )
            .unwrap(),
            [
                "https://app.example.com",
                "http://localhost:3000",
                "http://[::1]:8080"
            ]
        );
        assert!(parse_origins("CORS_ALLOWED_ORIGINS", "")
            .unwrap()
            .is_empty());
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "https://app.example.com:99999",
            "https://app.example.com:",
            "ftp://app.example.com",
            "https://",
            "https://a b",
            "https://user@app.example.com",
        ] {
            let err = parse_origins("CORS_ALLOWED_ORIGINS", bad).unwrap_err();
            assert_eq!(err.var, "CORS_ALLOWED_ORIGINS", "{bad}");
        }
    }
}
