//! Configuration from the environment (and `.env`), validated once at start.

use std::time::Duration;

use shared::config::{interval_secs, parse_flag, parse_number, secret_var, var, Common};
pub use shared::config::{ConfigError, ConfigErrors};
use shared::Secret;

use crate::kek::Kek;

/// Everything the server needs to run. Tests build it directly; `from_env` builds it for the
/// binary.
#[derive(Debug, Clone)]
pub struct Config {
    /// The variables both services read (`AUTH_BIND`, `DATABASE_URL`, `AUTH_ISSUER`: `iss` of
    /// every token, `API_AUDIENCE`: `aud` of every token, …); read through `Deref`, so
    /// `config.issuer` is `config.common.issuer`.
    pub common: Common,
    /// Bearer secret of the admin API; `None` makes every admin call 401.
    pub admin_token: Option<Secret>,
    /// bcrypt work factor of the dummy hash that pads a failed verification of a client secret
    /// still stored as bcrypt (from before digests); operator passwords use `max(12, this)`.
    pub bcrypt_cost: u32,
    /// How often each replica re-reads signing keys from the database
    /// (`SIGNING_KEY_REFRESH_SECS`, 2 s by default: a key revoked by `keys revoke` stops
    /// verifying in introspection within the revocation bound).
    pub key_refresh_secs: u64,
    /// `SIGNING_KEY_ENCRYPTION_KEY`: seals private signing keys at rest. Serving (and `keys`
    /// commands) refuse to run without it.
    pub signing_key_encryption_key: Option<Kek>,
    /// `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS`: during a KEK rotation, the old KEK; keys sealed
    /// with it are opened and re-sealed with the current one.
    pub previous_signing_key_encryption_key: Option<Kek>,
    /// How many bcrypt verifications may run at once (`BCRYPT_CONCURRENCY`); the rest wait, so
    /// a flood of uncached or wrong secrets cannot take every core from token issuance.
    pub bcrypt_concurrency: u32,
    /// `LAST_USED_FLUSH_SECS` (30 s by default, as in the resource API): how often the
    /// `last_token_at` of applications issued a token is written, in one batch.
    pub last_used_flush_secs: u64,
    /// The operator console (`/console`): sessions, password hashing, TOTP policy.
    pub console: ConsoleConfig,
}

/// `config.issuer`, `config.database_url`, …: the shared variables read as if they were the
/// service's own (the console and the routes read them this way).
impl std::ops::Deref for Config {
    type Target = Common;

    fn deref(&self) -> &Common {
        &self.common
    }
}

/// Settings of the operator console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// `CONSOLE_SESSION_IDLE_SECS` (1800): a session unused this long ends.
    pub session_idle_secs: u64,
    /// `CONSOLE_SESSION_MAX_SECS` (43200): a session ends this long after sign-in, used or not.
    pub session_max_secs: u64,
    /// `CONSOLE_REQUIRE_TOTP_FOR_ADMINS` (true): an admin without TOTP reaches only the
    /// enrolment page.
    pub require_totp_for_admins: bool,
    /// bcrypt work factor for operator passwords: `max(12, BCRYPT_COST)` from the environment;
    /// tests lower it.
    pub operator_bcrypt_cost: u32,
    /// The webhooks page: `WEBHOOK_SECRET_KEY` (the resource API's, so that a secret sealed
    /// here opens there; without it the page lists and changes endpoints but cannot create or
    /// rotate) and `WEBHOOK_ALLOW_PRIVATE_TARGETS`, read as the resource API reads them.
    pub webhooks: shared::webhooks::Settings,
}

pub const DEFAULT_CONSOLE_SESSION_IDLE_SECS: u64 = 30 * 60;
pub const DEFAULT_CONSOLE_SESSION_MAX_SECS: u64 = 12 * 3600;
/// Operator passwords are chosen by people, so they get more work than generated secrets.
pub const MIN_OPERATOR_BCRYPT_COST: u32 = 12;

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            session_idle_secs: DEFAULT_CONSOLE_SESSION_IDLE_SECS,
            session_max_secs: DEFAULT_CONSOLE_SESSION_MAX_SECS,
            require_totp_for_admins: true,
            operator_bcrypt_cost: MIN_OPERATOR_BCRYPT_COST,
            webhooks: shared::webhooks::Settings::default(),
        }
    }
}

/// `ADMIN_TOKEN` must be at least this long: it guards every credential.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Half the cores, at least one: bcrypt never takes the whole machine.
pub fn default_bcrypt_concurrency() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cores / 2).unwrap_or(1).max(1)
}

fn parse_kek(var: &'static str, file_var: &'static str) -> Result<Option<Kek>, ConfigError> {
    secret_var(var, file_var)?
        .map(|raw| Kek::parse(&raw).map_err(|m| ConfigError::new(var, m)))
        .transpose()
}

/// Why `SIGNING_KEY_ENCRYPTION_KEY` is needed, when it is missing.
pub const KEK_MISSING: &str = "is not set: private signing keys are encrypted at rest with it, \
     and the audit trail is chained under a key derived from it (generate one with \
     `openssl rand -base64 32`)";

pub const DEFAULT_BIND: &str = "127.0.0.1:8081";
pub use shared::config::{DEFAULT_AUDIENCE, DEFAULT_DATABASE_URL, DEFAULT_ISSUER};
/// Signing keys are re-read this often by default (`SIGNING_KEY_REFRESH_SECS`).
pub const DEFAULT_KEY_REFRESH_SECS: u32 = 2;
/// Cost 11 is ≈ 0.1 s per verify on a 2-core machine: slow for a guesser, and repeat clients
/// skip it through the verified-credential cache.
pub const DEFAULT_BCRYPT_COST: u32 = 11;
/// `last_token_at` is written this often by default (`LAST_USED_FLUSH_SECS`).
pub const DEFAULT_LAST_USED_FLUSH_SECS: u32 = 30;

/// The admin token of [`Config::for_tests`].
pub const TEST_ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdefghij";

impl Config {
    /// The one configuration tests start from (then adjust): [`Common::for_tests`], the admin
    /// token [`TEST_ADMIN_TOKEN`], a fixed KEK (so that a server restarted on the same
    /// database opens its keys; public, never for a real deployment), the lowest bcrypt costs
    /// (the suite stays fast), keys re-read and `last_token_at` written every second, and a
    /// console that does not demand TOTP of admins (the production default is tested on its
    /// own).
    pub fn for_tests(db_url: &str, issuer: &str) -> Config {
        Config {
            common: Common::for_tests(db_url, issuer),
            admin_token: Some(Secret::new(TEST_ADMIN_TOKEN)),
            bcrypt_cost: 4,
            key_refresh_secs: 1,
            signing_key_encryption_key: Some(Kek::from_bytes([42; 32])),
            previous_signing_key_encryption_key: None,
            bcrypt_concurrency: 2,
            last_used_flush_secs: 1,
            console: ConsoleConfig {
                operator_bcrypt_cost: 4,
                require_totp_for_admins: false,
                webhooks: shared::webhooks::Settings::for_tests(),
                ..Default::default()
            },
        }
    }

    /// Reads the shared variables (`AUTH_BIND`, `DATABASE_URL`, `AUTH_ISSUER`, `API_AUDIENCE`,
    /// `DB_POOL_SIZE`, `METRICS_BIND`, `CORS_ALLOWED_ORIGINS`, `LOG_FORMAT`: see
    /// [`shared::config::Common`]) and `ADMIN_TOKEN`, `BCRYPT_COST`, `BCRYPT_CONCURRENCY`,
    /// `SIGNING_KEY_ENCRYPTION_KEY`, `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS` and
    /// `SIGNING_KEY_REFRESH_SECS` and `LAST_USED_FLUSH_SECS`; secrets also from `*_FILE`. Every bad variable is reported.
    pub fn from_env() -> Result<Config, ConfigErrors> {
        Self::from_env_requiring_kek(false)
    }

    /// As [`Config::from_env`]; with `kek_required` (serving, and every command that writes or
    /// checks the audit trail) a missing `SIGNING_KEY_ENCRYPTION_KEY` is one more configuration
    /// error, reported with the others.
    pub fn from_env_requiring_kek(kek_required: bool) -> Result<Config, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let common = Common::from_env("AUTH_BIND", DEFAULT_BIND, &mut errors);
        let admin_token = errors
            .check(secret_var("ADMIN_TOKEN", "ADMIN_TOKEN_FILE"))
            .flatten()
            .map(Secret::new);
        if admin_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().chars().count() < MIN_ADMIN_TOKEN_LEN)
        {
            errors.push(ConfigError::new(
                "ADMIN_TOKEN",
                format!(
                    "must be at least {MIN_ADMIN_TOKEN_LEN} characters (generate one with `openssl rand -base64 32`)"
                ),
            ));
        }
        let bcrypt_cost = match var("BCRYPT_COST") {
            None => DEFAULT_BCRYPT_COST,
            Some(v) => errors.or(parse_number("BCRYPT_COST", &v, 4..=16), DEFAULT_BCRYPT_COST),
        };
        let bcrypt_concurrency = match var("BCRYPT_CONCURRENCY") {
            None => default_bcrypt_concurrency(),
            Some(v) => errors.or(parse_number("BCRYPT_CONCURRENCY", &v, 1..=256), 1),
        };
        let key_refresh = errors.or(
            interval_secs("SIGNING_KEY_REFRESH_SECS", DEFAULT_KEY_REFRESH_SECS, 1..=60),
            Duration::from_secs(DEFAULT_KEY_REFRESH_SECS.into()),
        );
        let last_used_flush = errors.or(
            interval_secs(
                "LAST_USED_FLUSH_SECS",
                DEFAULT_LAST_USED_FLUSH_SECS,
                1..=3600,
            ),
            Duration::from_secs(DEFAULT_LAST_USED_FLUSH_SECS.into()),
        );
        let signing_key_encryption_key = match parse_kek(
            "SIGNING_KEY_ENCRYPTION_KEY",
            "SIGNING_KEY_ENCRYPTION_KEY_FILE",
        ) {
            Ok(None) if kek_required => {
                errors.push(ConfigError::new("SIGNING_KEY_ENCRYPTION_KEY", KEK_MISSING));
                None
            }
            other => errors.check(other).flatten(),
        };
        let previous_signing_key_encryption_key = errors
            .check(parse_kek(
                "SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS",
                "SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS_FILE",
            ))
            .flatten();
        let session_idle_secs = match var("CONSOLE_SESSION_IDLE_SECS") {
            None => DEFAULT_CONSOLE_SESSION_IDLE_SECS,
            Some(v) => u64::from(errors.or(
                parse_number("CONSOLE_SESSION_IDLE_SECS", &v, 60..=86_400),
                0,
            )),
        };
        let session_max_secs = match var("CONSOLE_SESSION_MAX_SECS") {
            None => DEFAULT_CONSOLE_SESSION_MAX_SECS,
            Some(v) => u64::from(errors.or(
                parse_number("CONSOLE_SESSION_MAX_SECS", &v, 60..=30 * 86_400),
                0,
            )),
        };
        let webhooks = shared::webhooks::Settings::from_env(&mut errors);
        let require_totp_for_admins = match var("CONSOLE_REQUIRE_TOTP_FOR_ADMINS") {
            None => true,
            Some(v) => errors.or(parse_flag("CONSOLE_REQUIRE_TOTP_FOR_ADMINS", &v), false),
        };
        errors.into_result(Config {
            common,
            admin_token,
            bcrypt_cost,
            key_refresh_secs: key_refresh.as_secs(),
            signing_key_encryption_key,
            previous_signing_key_encryption_key,
            bcrypt_concurrency,
            last_used_flush_secs: last_used_flush.as_secs(),
            console: ConsoleConfig {
                session_idle_secs,
                session_max_secs,
                require_totp_for_admins,
                operator_bcrypt_cost: bcrypt_cost.max(MIN_OPERATOR_BCRYPT_COST),
                webhooks,
            },
        })
    }
}
