//! Configuration from the environment (and `.env`), validated once at start.

use std::time::Duration;

use shared::config::{interval_secs, parse_number, var, Common};
pub use shared::config::{ConfigError, ConfigErrors};

#[derive(Debug, Clone)]
pub struct Config {
    /// The variables both services read (`API_BIND`, `DATABASE_URL`, `AUTH_ISSUER`: the
    /// authorization server, `iss` of accepted tokens; `API_AUDIENCE`: the only `aud`
    /// accepted, …); read through `Deref`, so `config.issuer` is `config.common.issuer`.
    pub common: Common,
    /// `API_PUBLIC_URL`: where clients reach this API (the `servers` entry of `/openapi.json`).
    /// Default: `http://` and `API_BIND`.
    pub public_url: String,
    /// `JWKS_URL`: where the authorization server's keys are fetched. `None`: the `jwks_uri`
    /// of the issuer's RFC 8414 metadata.
    pub jwks_url: Option<String>,
    /// How often credential changes (revocations, disabled apps, revoked keys) are read.
    pub credential_poll: Duration,
    /// How often `last_used_at` of API keys is written.
    pub last_used_flush: Duration,
    /// How often the JWKS is re-read even when no unknown `kid` shows up.
    pub jwks_refresh: Duration,
    /// How many screens score at once and how long the others wait. Not read from the
    /// environment: the default suits every deployment, and tests lower it.
    pub scoring: ScoringConfig,
    /// The webhook variables (`WEBHOOK_*`).
    pub webhooks: WebhookConfig,
}

/// How webhooks are signed and delivered (`service::webhooks`).
#[derive(Clone)]
pub struct WebhookConfig {
    /// `WEBHOOK_SECRET_KEY` (or `_FILE`: seals endpoint secrets at rest; this service's own
    /// key, not the auth server's KEK; without it, endpoints cannot be created, 503) and
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS` (default false: lifts the https-for-live and the
    /// private-address rules, for development and tests), read as the console reads them.
    pub settings: shared::webhooks::Settings,
    /// `WEBHOOK_RETRY_SCHEDULE`: the waits between attempts (default the Standard Webhooks
    /// schedule, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); after the last, the delivery fails.
    pub retry_schedule: Vec<Duration>,
    /// `WEBHOOK_TIMEOUT_SECS` (default 10): a 2xx within it is a success.
    pub timeout: Duration,
    /// `WEBHOOK_RETENTION_DAYS` (default 30): delivered events and the delivery log are pruned
    /// after it.
    pub retention: Duration,
    /// How often the outbox is polled (SQLite; on PostgreSQL a `NOTIFY` wakes the workers at
    /// once and this is the backstop). Not read from the environment.
    pub poll: Duration,
    /// Deliveries in flight at once per replica, and per endpoint. Not read from the environment.
    pub concurrency: usize,
    pub per_endpoint: usize,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("settings", &self.settings)
            .field("retry_schedule", &self.retry_schedule)
            .field("timeout", &self.timeout)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// The Standard Webhooks retry schedule, in seconds between attempts.
pub const DEFAULT_RETRY_SCHEDULE: &[u64] = &[5, 300, 1800, 7200, 18_000, 36_000, 36_000];

impl WebhookConfig {
    fn defaults(settings: shared::webhooks::Settings) -> WebhookConfig {
        WebhookConfig {
            settings,
            retry_schedule: DEFAULT_RETRY_SCHEDULE
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            timeout: Duration::from_secs(10),
            retention: Duration::from_secs(30 * 86_400),
            poll: Duration::from_millis(200),
            concurrency: 64,
            per_endpoint: 8,
        }
    }

    fn from_env(errors: &mut ConfigErrors) -> WebhookConfig {
        let mut c = WebhookConfig::defaults(shared::webhooks::Settings::from_env(errors));
        if let Some(raw) = var("WEBHOOK_RETRY_SCHEDULE") {
            c.retry_schedule = errors.or(parse_retry_schedule(&raw), c.retry_schedule);
        }
        c.timeout = errors.or(interval_secs("WEBHOOK_TIMEOUT_SECS", 10, 1..=60), c.timeout);
        if let Some(raw) = var("WEBHOOK_RETENTION_DAYS") {
            let days = errors.or(parse_number("WEBHOOK_RETENTION_DAYS", &raw, 1..=3650), 30);
            c.retention = Duration::from_secs(u64::from(days) * 86_400);
        }
        c
    }
}

/// `WEBHOOK_RETRY_SCHEDULE`: seconds between attempts, comma-separated (`0,0` in tests), at
/// most 20 of them, each at most a day.
pub fn parse_retry_schedule(raw: &str) -> Result<Vec<Duration>, ConfigError> {
    let bad = || {
        ConfigError::new(
            "WEBHOOK_RETRY_SCHEDULE",
            "must be up to 20 whole numbers of seconds (each ≤ 86400), comma-separated, e.g. 5,300,1800",
        )
    };
    let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
    if parts.len() > 20 {
        return Err(bad());
    }
    parts
        .iter()
        .map(|p| match p.parse::<u64>() {
            Ok(n) if n <= 86_400 => Ok(Duration::from_secs(n)),
            _ => Err(bad()),
        })
        .collect()
}

/// `config.issuer`, `config.db_pool_size`, …: the shared variables read as if they were the
/// service's own.
impl std::ops::Deref for Config {
    type Target = Common;

    fn deref(&self) -> &Common {
        &self.common
    }
}

/// How long a screen waits for its turns before it is refused, unless configured.
pub const SCORING_WAIT: Duration = Duration::from_secs(1);

/// The scoring turns of `service::watchlist::Scoring`.
#[derive(Debug, Clone)]
pub struct ScoringConfig {
    /// Screens (and subject risk scores) that read and score candidates at once. Default: the
    /// cores this process may use (`std::thread::available_parallelism`, which follows a
    /// container's CPU quota), so that scoring can never take more than the machine and
    /// requests that need little CPU still find some.
    pub concurrency: usize,
    /// How long a screen waits for a turn before it is answered 503 with `Retry-After`.
    pub wait: Duration,
}

impl Default for ScoringConfig {
    fn default() -> ScoringConfig {
        ScoringConfig {
            concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            wait: SCORING_WAIT,
        }
    }
}

impl Config {
    /// The one configuration tests start from (then adjust): [`Common::for_tests`], the
    /// issuer's metadata for the JWKS, its own address as the public URL, credentials polled
    /// every second, `last_used_at` written every 300 ms and the JWKS re-read every 300 s.
    pub fn for_tests(db_url: &str, issuer: &str) -> Config {
        let common = Common::for_tests(db_url, issuer);
        Config {
            public_url: format!("http://{}", common.bind),
            common,
            jwks_url: None,
            credential_poll: Duration::from_secs(1),
            last_used_flush: Duration::from_millis(300),
            jwks_refresh: Duration::from_secs(300),
            scoring: ScoringConfig::default(),
            webhooks: WebhookConfig {
                retry_schedule: vec![Duration::ZERO, Duration::ZERO],
                timeout: Duration::from_secs(3),
                poll: Duration::from_millis(50),
                ..WebhookConfig::defaults(shared::webhooks::Settings::for_tests())
            },
        }
    }

    /// Reads the shared variables (`API_BIND`, `DATABASE_URL`, `AUTH_ISSUER`, `API_AUDIENCE`,
    /// `DB_POOL_SIZE`, `METRICS_BIND`, `CORS_ALLOWED_ORIGINS`, `LOG_FORMAT`, `TRUSTED_PROXIES`: see
    /// [`shared::config::Common`]), `API_PUBLIC_URL`, `JWKS_URL`, the intervals `CREDENTIAL_POLL_SECS`,
    /// `LAST_USED_FLUSH_SECS` and `JWKS_REFRESH_SECS`, the `WEBHOOK_*` variables, and checks `SSL_CERT_FILE`. Every bad
    /// variable is reported.
    pub fn from_env() -> Result<Config, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let common = Common::from_env("API_BIND", "127.0.0.1:8080", &mut errors);
        let public_url = match var("API_PUBLIC_URL") {
            Some(v) => errors.or(parse_http_url("API_PUBLIC_URL", &v), String::new()),
            None => format!("http://{}", common.bind),
        };
        let jwks_url = var("JWKS_URL").and_then(|v| errors.check(parse_http_url("JWKS_URL", &v)));
        errors.check(shared::outbound::check_trust_store());
        // The credential poll bounds how long a revoked credential keeps working: at most 60 s.
        let credential_poll = errors.or(
            interval_secs("CREDENTIAL_POLL_SECS", 1, 1..=60),
            Duration::from_secs(1),
        );
        let last_used_flush = errors.or(
            interval_secs("LAST_USED_FLUSH_SECS", 30, 1..=3600),
            Duration::from_secs(30),
        );
        let jwks_refresh = errors.or(
            interval_secs("JWKS_REFRESH_SECS", 300, 10..=86_400),
            Duration::from_secs(300),
        );
        let webhooks = WebhookConfig::from_env(&mut errors);
        errors.into_result(Config {
            webhooks,
            common,
            public_url,
            jwks_url,
            credential_poll,
            last_used_flush,
            jwks_refresh,
            scoring: ScoringConfig::default(),
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
    fn retry_schedules_are_seconds_between_attempts() {
        use std::time::Duration;
        let s = super::parse_retry_schedule("0, 5,300").unwrap();
        assert_eq!(s, [0, 5, 300].map(Duration::from_secs));
        for bad in ["", "5,,6", "-1", "1.5", "86401", &"1,".repeat(21)] {
            assert!(super::parse_retry_schedule(bad).is_err(), "{bad}");
        }
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
