//! The command line: `serve` (default), `migrate`, `healthcheck`, `token`, and the ops commands
//! that mirror the admin API for people without HTTP access. Every command calls the service
//! layer, never `db/`. Secrets are printed once; invalid values exit non-zero with one line
//! naming the flag, and change nothing.
//!
//! Every command that writes (and `audit verify`) needs `SIGNING_KEY_ENCRYPTION_KEY`: the audit
//! trail is chained under a key derived from it. Without it such a command stops before doing
//! anything, as a configuration error (exit 2). A writing command first prepares the audit
//! chain (`audit::prepare_chain`: anchors a trail from before keyed chains, re-keys it after a
//! KEK rotation) and records its events as the account of the real uid that ran it.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use shared::db::{DatabaseTarget, Db};

use crate::config::{Config, ConfigError, ConfigErrors};
use crate::error::Error;
use crate::service::api_keys::{self, ApiKeyView};
use crate::service::applications::{self, ApplicationView};
use crate::service::audit::{self, AuditContext, ChainReport};
use crate::service::now_micros;
use crate::service::operators::{self, Email, OperatorView, Password, Role};
use crate::service::signing::{self, SigningKeyView};
use crate::Application;

/// Why a command failed: printed as `auth-server: <message>` with exit status 1 (configuration
/// errors are reported before a command runs, with exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A refusal of the service layer, in the CLI's words (`--flag` names, "no … with this id").
    #[error("{}", describe(.0))]
    Service(#[from] Error),
    #[error(transparent)]
    Signing(#[from] signing::SigningError),
    #[error(transparent)]
    Db(#[from] shared::db::DbError),
    /// `DATABASE_URL` cannot be opened (or, for an ops command, names no SQLite file yet).
    #[error("DATABASE_URL: {0}")]
    Database(String),
    #[error("audit trail: {0}")]
    AuditTrail(shared::db::DbError),
    /// A flag's value is refused.
    #[error("invalid --{flag}: {message}")]
    Invalid { flag: &'static str, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Anything else, as one line (the server's start-up errors, an unreachable token
    /// endpoint, a broken audit chain).
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Parser)]
#[command(
    name = "auth-server",
    version,
    about = "CaseForge OAuth 2.0 authorization server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit (creates a new SQLite file if needed).
    Migrate,
    /// Exit 0 when the server on AUTH_BIND answers GET /readyz with 200, else 1 (for container
    /// health checks: no curl needed).
    Healthcheck,
    /// Get an access token with the client-credentials grant and print it.
    Token(TokenArgs),
    /// Manage applications (OAuth clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit trail: check its keyed chain, or export it as JSON lines.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage console operators (people who sign in to /console).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Print the OpenAPI document as served with the default AUTH_ISSUER, and exit (what
    /// scripts/lint-openapi.sh writes to sdks/openapi/auth-server.json). Reads no configuration.
    #[command(hide = true)]
    Openapi,
}

/// How listing and show commands print: JSON (the default) or aligned columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    #[default]
    Json,
    Table,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArg {
    /// json (default) or table (aligned columns).
    #[arg(long, value_enum, default_value_t = Output::Json)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an application; prints its client_id and client_secret (once).
    Create(AppCreate),
    /// List applications.
    List(OutputArg),
    /// Show one application.
    Show {
        client_id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Change an application's name, description, scopes, tier or introspection permission.
    Update(AppUpdate),
    /// Issue a new client secret. Without --grace-period-seconds the old secret keeps working
    /// until the new one is first used (at most 7 days); 0 ends it at once.
    RotateSecret {
        client_id: String,
        /// How long the old secret keeps working, in seconds (0 to 604800).
        #[arg(long)]
        grace_period_seconds: Option<i64>,
        /// Also refuse every token issued before now.
        #[arg(long)]
        revoke_tokens: bool,
    },
    /// Refuse every token issued to the application before now.
    RevokeTokens { client_id: String },
    /// Disable an application: its tokens stop working.
    Disable { client_id: String },
    /// Enable a disabled application again: it can get new tokens.
    Enable { client_id: String },
    /// Delete an application.
    Delete { client_id: String },
    /// Report the applications whose secret is still stored as bcrypt (from before digests).
    /// Each is replaced by its SHA-256 digest at the client's next successful authentication
    /// (or by rotating its secret); exits 0 either way.
    MigrateSecrets,
}

#[derive(Debug, Args)]
pub struct AppCreate {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Comma-separated scopes, e.g. cases:read,cases:write.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub scopes: Vec<String>,
    /// sandbox or live (default sandbox).
    #[arg(long)]
    pub environment: Option<String>,
    /// basic, standard, professional, enterprise or unlimited (default standard).
    #[arg(long)]
    pub tier: Option<String>,
    /// client_secret_basic (default), client_secret_post or private_key_jwt (no secret; needs
    /// --jwks-file).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// A JSON file holding the public keys ({"keys": [...]}) of a private_key_jwt application.
    #[arg(long)]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Every token request must carry a DPoP proof (RFC 9449).
    #[arg(long)]
    pub dpop_bound: bool,
}

/// The fields `PATCH /admin/applications/{client_id}` changes; at least one is needed. The
/// environment cannot change (tokens and records are bound to it).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct AppUpdate {
    pub client_id: String,
    #[arg(long, group = "change")]
    pub name: Option<String>,
    #[arg(long, group = "change")]
    pub description: Option<String>,
    /// Comma-separated scopes; replaces the current list.
    #[arg(long, group = "change", value_delimiter = ',', num_args = 0..)]
    pub scopes: Option<Vec<String>>,
    /// basic, standard, professional, enterprise or unlimited.
    #[arg(long, group = "change")]
    pub tier: Option<String>,
    /// May introspect tokens of other applications (true or false).
    #[arg(long, group = "change")]
    pub introspection: Option<bool>,
    /// Replaces the public keys of a private_key_jwt application (a JSON file {"keys": [...]}).
    #[arg(long, group = "change")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Every token request must carry a DPoP proof (true or false).
    #[arg(long, group = "change")]
    pub dpop_bound: Option<bool>,
}

/// Reads a `--jwks-file` (its content is public keys; a private one is refused by validation).
fn read_jwks(path: Option<&std::path::Path>) -> Result<Option<serde_json::Value>, CliError> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Invalid {
        flag: "jwks-file",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| CliError::Invalid {
            flag: "jwks-file",
            message: format!("not JSON ({e})"),
        })
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; prints the key (once).
    Create(KeyCreate),
    /// List API keys, newest first.
    List(OutputArg),
    /// Show one API key (never the key itself).
    Show {
        id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Revoke an API key.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct KeyCreate {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// sandbox or live (required, as in the admin API).
    #[arg(long)]
    pub environment: String,
    /// Comma-separated scopes.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub scopes: Vec<String>,
    #[arg(long)]
    pub tier: Option<String>,
    /// RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z.
    #[arg(long)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key active; old keys stay published until their tokens expire.
    Rotate,
    /// Take a signing key out of service now (suspected compromise): it is unpublished and
    /// every token it signed is refused; if it was active, a new key takes over first.
    Revoke {
        /// A kid is a base64url thumbprint and may begin with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// List signing keys.
    List(OutputArg),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the keyed chain of the whole trail (needs SIGNING_KEY_ENCRYPTION_KEY): exit 0 and
    /// print the event count and the head hash when it is intact, exit 1 naming the first event
    /// that does not fit, or when the trail no longer holds a head and count kept elsewhere.
    Verify(AuditVerify),
    /// Print events as JSON lines, oldest first (the same filters as GET /admin/audit-events).
    Export(AuditExport),
}

/// How `audit verify` prints its result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum VerifyOutput {
    /// One line: `audit chain intact: N events, head <hash>`.
    #[default]
    Text,
    /// One JSON object (also when the chain is broken).
    Json,
}

#[derive(Debug, Args)]
pub struct AuditVerify {
    /// A head printed by an earlier `audit verify` and kept outside the database: exit 1
    /// unless an event of the trail still has this hash (events deleted from the end of the
    /// trail are found this way).
    #[arg(long)]
    pub expect_head: Option<String>,
    /// The event count printed with that head: exit 1 when the trail holds fewer events (every
    /// event deleted: 0); with --expect-head, event N must be the one with that hash.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    pub expect_count: Option<i64>,
    /// text (default) or json.
    #[arg(long, value_enum, default_value_t = VerifyOutput::Text)]
    pub output: VerifyOutput,
}

#[derive(Debug, Args)]
pub struct AuditExport {
    /// Operator id, admin-token, an OS account, a client id, or system.
    #[arg(long)]
    pub actor: Option<String>,
    /// e.g. api_key.create.
    #[arg(long)]
    pub action: Option<String>,
    /// The id acted on.
    #[arg(long)]
    pub target: Option<String>,
    /// RFC 3339: events at or after.
    #[arg(long)]
    pub from: Option<String>,
    /// RFC 3339: events before.
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator. With --password-stdin the password is read from standard input;
    /// without it a one-time setup link (24 h) is printed, once.
    Create {
        #[arg(long)]
        email: String,
        /// admin, developer or auditor.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List operators, oldest first.
    List(OutputArg),
    /// Disable an operator: every session of theirs ends at once.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled operator again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Change an operator's role.
    SetRole {
        #[arg(long)]
        email: String,
        /// admin, developer or auditor.
        #[arg(long)]
        role: String,
    },
    /// Print a new one-time setup link for an operator (a forgotten password); the previous
    /// link stops working, the current password keeps working until the link is used.
    SetupLink {
        #[arg(long)]
        email: String,
    },
    /// Remove an operator's TOTP (a lost or stolen authenticator): their next sign-in asks only
    /// for the password, and every session of theirs ends at once.
    ResetTotp {
        #[arg(long)]
        email: String,
    },
}

/// What `auth-server token` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TokenOutput {
    /// The access token alone, for `TOKEN=$(auth-server token …)`.
    #[default]
    Token,
    /// The token response as JSON.
    Json,
}

/// The client-credentials grant from the command line. The secret comes from standard input or
/// the `CLIENT_SECRET` variable, never from an argument (which would land in shell history and
/// in `ps`).
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The authorization server's issuer URL; the token endpoint is ISSUER/oauth/token.
    #[arg(long, env = "AUTH_ISSUER")]
    pub issuer: String,
    /// The application's client_id (app_…).
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: String,
    /// Scopes to request, space- or comma-separated, or repeated (default: all the
    /// application's scopes).
    #[arg(long)]
    pub scope: Vec<String>,
    /// Read the client secret from standard input (else from CLIENT_SECRET).
    #[arg(long)]
    pub client_secret_stdin: bool,
    #[arg(long, value_enum, default_value_t = TokenOutput::Token)]
    pub output: TokenOutput,
}

impl Command {
    /// Whether the command writes to the audit trail or checks it, and so needs the key derived
    /// from `SIGNING_KEY_ENCRYPTION_KEY`.
    fn needs_audit_key(&self) -> bool {
        match self {
            Command::Serve
            | Command::Migrate
            | Command::Healthcheck
            | Command::Token(_)
            | Command::Openapi => false,
            Command::App(
                AppCommand::List(_) | AppCommand::Show { .. } | AppCommand::MigrateSecrets,
            ) => false,
            Command::Key(KeyCommand::List(_) | KeyCommand::Show { .. }) => false,
            Command::Keys(KeysCommand::List(_)) => false,
            Command::Audit(AuditCommand::Export(_)) => false,
            Command::Operator(OperatorCommand::List(_)) => false,
            Command::App(_)
            | Command::Key(_)
            | Command::Keys(_)
            | Command::Audit(AuditCommand::Verify(_))
            | Command::Operator(_) => true,
        }
    }
}

/// Runs the parsed command and turns the outcome into an exit code.
pub fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve);
    // The token helper talks to a server over HTTP: it needs no server configuration.
    if let Command::Token(args) = command {
        return exit(block_on(token(args)));
    }
    // The document depends on the code only (and the issuer, here the default one).
    if let Command::Openapi = command {
        return exit(print_openapi());
    }
    // Serving seals signing keys with the KEK: its absence is a configuration error like any
    // other (reported with them, exit 2), not a failure of the start.
    let kek_required = command.needs_audit_key() || matches!(command, Command::Serve);
    let config = match Config::from_env_requiring_kek(kek_required) {
        Ok(c) => c,
        Err(errors) => {
            errors.report("auth-server");
            return ExitCode::from(2);
        }
    };
    let keks = if command.needs_audit_key() {
        match kek_ring(&config) {
            Ok(keks) => Some(keks),
            Err(e) => {
                ConfigErrors::from(e).report("auth-server");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let keks = keks.as_ref();
    exit(block_on(async move {
        match command {
            Command::Serve => serve(config).await,
            Command::Healthcheck => shared::outbound::probe_ready(config.bind)
                .await
                .map_err(|e| CliError::Other(format!("not ready: {e}"))),
            Command::Migrate => migrate(&config),
            Command::Token(_) => unreachable!("token is handled before the configuration"),
            Command::Openapi => unreachable!("openapi is handled before the configuration"),
            Command::App(cmd) => app(cmd, &open_existing(&config)?, keks).await,
            Command::Key(cmd) => key(cmd, &open_existing(&config)?, keks).await,
            Command::Keys(cmd) => keys(cmd, &open_existing(&config)?, keks).await,
            Command::Audit(cmd) => audit(cmd, &open_existing(&config)?, keks).await,
            Command::Operator(cmd) => operator(cmd, &open_existing(&config)?, &config, keks).await,
        }
    }))
}

/// `auth-server openapi`: the served document for the default issuer, pretty-printed.
fn print_openapi() -> Result<(), CliError> {
    let doc = crate::openapi::document(shared::config::DEFAULT_ISSUER);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn block_on<F: std::future::Future<Output = Result<(), CliError>>>(f: F) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(f)
}

fn exit(outcome: Result<(), CliError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("auth-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
    if config.admin_token.is_none() {
        tracing::warn!("ADMIN_TOKEN is not set: the admin API answers 401 to everything");
    }
    let app = Application::build(config).await.map_err(CliError::Other)?;
    Ok(app.run_until_stopped().await?)
}

fn migrate(config: &Config) -> Result<(), CliError> {
    let db = Db::connect(&config.database_url, 2).map_err(|e| CliError::Database(e.to_string()))?;
    out(&format!(
        "migrations are up to date ({})",
        db.target().describe()
    ));
    Ok(())
}

/// Opens the database for an ops command. A SQLite file that does not exist is refused rather
/// than created: a command run from another directory would otherwise answer from a new, empty
/// database (`{"data": []}`) as if nothing were registered.
fn open_existing(config: &Config) -> Result<Db, CliError> {
    if let Ok(DatabaseTarget::Sqlite(path)) = DatabaseTarget::parse(&config.database_url) {
        if !path.exists() {
            let shown = std::path::absolute(&path).unwrap_or(path);
            return Err(CliError::Database(format!(
                "no database at {} (set DATABASE_URL, run from the directory that holds it, or create it with `auth-server migrate`)",
                shown.display()
            )));
        }
    }
    Db::connect(&config.database_url, 2).map_err(|e| CliError::Database(e.to_string()))
}

/// The KEKs from the configuration: commands that write (the audit chain's key is derived from
/// the KEK) or touch private signing keys need them.
fn kek_ring(config: &Config) -> Result<signing::KekRing, ConfigError> {
    let current = config.signing_key_encryption_key.clone().ok_or_else(|| {
        ConfigError::new("SIGNING_KEY_ENCRYPTION_KEY", crate::config::KEK_MISSING)
    })?;
    Ok(signing::KekRing::new(
        current,
        config.previous_signing_key_encryption_key.clone(),
    ))
}

/// The KEKs of a command that [`Command::needs_audit_key`] (checked before it started).
fn keks_of(keks: Option<&signing::KekRing>) -> Result<&signing::KekRing, CliError> {
    keks.ok_or_else(|| CliError::Other("SIGNING_KEY_ENCRYPTION_KEY is not set".to_owned()))
}

/// The audit context of a writing command, after preparing the chain it will append to (a
/// trail from before keyed chains is anchored, one under the previous KEK re-keyed).
fn writer(db: &Db, keks: Option<&signing::KekRing>) -> Result<AuditContext, CliError> {
    let keys = keks_of(keks)?.audit_keys();
    audit::prepare_chain(db, &keys, now_micros()).map_err(CliError::AuditTrail)?;
    Ok(AuditContext::cli(&keys.current))
}

fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)?;
    out(&text);
    Ok(())
}

/// Writes one line of output. A reader that went away (`auth-server … | head`) ends the command
/// quietly instead of a panic about a broken pipe.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("auth-server: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// `--scopes 'cases:read, alerts:read'` means what it says: each item trimmed, empty ones
/// dropped.
fn trimmed(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn describe(e: &Error) -> String {
    match e {
        Error::Validation { field, message } => {
            // The flags whose names are not the JSON field's.
            let flag = match *field {
                "token_endpoint_auth_method" => "auth-method".to_owned(),
                "jwks" => "jwks-file".to_owned(),
                "dpop_bound_access_tokens" => "dpop-bound".to_owned(),
                other => other.replace('_', "-"),
            };
            format!("invalid --{flag}: {message}")
        }
        Error::NotFound(what) => format!("no {what} with this id exists"),
        other => other.to_string(),
    }
}

// --- output ----------------------------------------------------------------------------------

/// A record that prints as one table row. Secrets are never among the columns.
trait Tabular {
    const HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_owned())
}

impl Tabular for ApplicationView {
    const HEADER: &'static [&'static str] = &[
        "CLIENT_ID",
        "NAME",
        "ENVIRONMENT",
        "TIER",
        "SCOPES",
        "DISABLED",
        "CREATED_AT",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.client_id.clone(),
            self.name.clone(),
            self.environment.as_str().to_owned(),
            self.tier.as_str().to_owned(),
            self.scopes.to_delimited().replace(' ', ","),
            self.disabled.to_string(),
            self.created_at.clone(),
        ]
    }
}

impl Tabular for ApiKeyView {
    const HEADER: &'static [&'static str] = &[
        "ID",
        "NAME",
        "ENVIRONMENT",
        "TIER",
        "MASKED_TOKEN",
        "SCOPES",
        "EXPIRES_AT",
        "LAST_USED_AT",
        "REVOKED_AT",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.environment.as_str().to_owned(),
            self.tier.as_str().to_owned(),
            self.masked_token.clone(),
            self.scopes.to_delimited().replace(' ', ","),
            or_dash(&self.expires_at),
            or_dash(&self.last_used_at),
            or_dash(&self.revoked_at),
        ]
    }
}

impl Tabular for OperatorView {
    const HEADER: &'static [&'static str] =
        &["ID", "EMAIL", "ROLE", "TOTP", "DISABLED", "CREATED_AT"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.email.clone(),
            self.role.to_string(),
            self.totp_enabled.to_string(),
            self.disabled.to_string(),
            self.created_at.clone(),
        ]
    }
}

impl Tabular for SigningKeyView {
    const HEADER: &'static [&'static str] =
        &["KID", "ALGORITHM", "STATUS", "CREATED_AT", "RETIRED_AT"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.kid.clone(),
            self.algorithm.clone(),
            self.status.to_owned(),
            self.created_at.clone(),
            or_dash(&self.retired_at),
        ]
    }
}

/// Aligned columns without borders, two spaces apart, like `kubectl get`.
fn plain_table(header: Option<&[&str]>, rows: Vec<Vec<String>>) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    if let Some(header) = header {
        table.set_header(header.to_vec());
    }
    table.add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt()
}

fn print_list<T: Tabular + Serialize>(items: &[T], output: Output) -> Result<(), CliError> {
    match output {
        Output::Json => print_json(&serde_json::json!({ "data": items })),
        Output::Table => {
            let rows = items.iter().map(Tabular::cells).collect();
            out(&plain_table(Some(T::HEADER), rows));
            Ok(())
        }
    }
}

fn print_one<T: Tabular + Serialize>(item: &T, output: Output) -> Result<(), CliError> {
    match output {
        Output::Json => print_json(item),
        Output::Table => {
            let rows = T::HEADER
                .iter()
                .zip(item.cells())
                .map(|(field, value)| vec![(*field).to_owned(), value])
                .collect();
            out(&plain_table(None, rows));
            Ok(())
        }
    }
}

// --- applications ------------------------------------------------------------------------------

async fn app(
    command: AppCommand,
    db: &Db,
    keks: Option<&signing::KekRing>,
) -> Result<(), CliError> {
    match command {
        AppCommand::Create(a) => app_create(db, keks, a).await,
        AppCommand::List(o) => print_list(
            &applications::list(db, &Default::default()).await?,
            o.output,
        ),
        AppCommand::Show { client_id, output } => {
            print_one(&applications::get(db, &client_id).await?, output.output)
        }
        AppCommand::Update(u) => app_update(db, keks, u).await,
        AppCommand::RotateSecret {
            client_id,
            grace_period_seconds,
            revoke_tokens,
        } => {
            let options = applications::RotateSecret {
                grace_period_seconds,
                revoke_tokens: Some(revoke_tokens),
            };
            app_rotate_secret(db, keks, &client_id, options).await
        }
        AppCommand::RevokeTokens { client_id } => app_revoke_tokens(db, keks, &client_id).await,
        AppCommand::Disable { client_id } => app_set_disabled(db, keks, &client_id, true).await,
        AppCommand::Enable { client_id } => app_set_disabled(db, keks, &client_id, false).await,
        AppCommand::Delete { client_id } => app_delete(db, keks, &client_id).await,
        AppCommand::MigrateSecrets => {
            let pending = applications::with_legacy_secrets(db).await?;
            print_json(&serde_json::json!({
                "bcrypt_rows": pending.len(),
                "client_ids": pending,
                "note": "each is replaced by its digest at the client's next successful authentication, or by rotate-secret",
            }))
        }
    }
}

async fn app_create(
    db: &Db,
    keks: Option<&signing::KekRing>,
    a: AppCreate,
) -> Result<(), CliError> {
    let new = applications::CreateApplication {
        name: a.name,
        description: a.description,
        scopes: trimmed(a.scopes),
        environment: a.environment,
        tier: a.tier,
        introspection: None,
        token_endpoint_auth_method: a.auth_method,
        jwks: read_jwks(a.jwks_file.as_deref())?,
        dpop_bound_access_tokens: a.dpop_bound.then_some(true),
    }
    .validate()?;
    let created = applications::create(db, &writer(db, keks)?, new, now_micros()).await?;
    print_json(&created)?;
    if created.client_secret.is_some() {
        eprintln!("Store the client_secret now: it cannot be shown again.");
    } else {
        eprintln!("This application has no secret: it authenticates with a JWT signed by one of its keys.");
    }
    Ok(())
}

/// The admin API's PATCH: every value is validated before anything is written.
async fn app_update(
    db: &Db,
    keks: Option<&signing::KekRing>,
    u: AppUpdate,
) -> Result<(), CliError> {
    let patch = applications::PatchApplication {
        name: u.name,
        description: u.description,
        scopes: u.scopes.map(trimmed),
        tier: u.tier,
        disabled: None,
        introspection: u.introspection,
        jwks: read_jwks(u.jwks_file.as_deref())?,
        dpop_bound_access_tokens: u.dpop_bound,
        ..Default::default()
    };
    let updated = applications::patch(
        db,
        &writer(db, keks)?,
        &u.client_id,
        patch,
        applications::ChangedBy::Admin,
        now_micros(),
    )
    .await?;
    print_json(&updated)
}

async fn app_set_disabled(
    db: &Db,
    keks: Option<&signing::KekRing>,
    client_id: &str,
    disabled: bool,
) -> Result<(), CliError> {
    let patch = applications::PatchApplication {
        disabled: Some(disabled),
        ..Default::default()
    };
    let updated = applications::patch(
        db,
        &writer(db, keks)?,
        client_id,
        patch,
        applications::ChangedBy::Admin,
        now_micros(),
    )
    .await?;
    print_json(&updated)
}

async fn app_rotate_secret(
    db: &Db,
    keks: Option<&signing::KekRing>,
    client_id: &str,
    options: applications::RotateSecret,
) -> Result<(), CliError> {
    let rotated =
        applications::rotate_secret(db, &writer(db, keks)?, client_id, options, now_micros())
            .await?;
    print_json(&rotated)?;
    eprintln!("Store the client_secret now: it cannot be shown again.");
    Ok(())
}

async fn app_revoke_tokens(
    db: &Db,
    keks: Option<&signing::KekRing>,
    client_id: &str,
) -> Result<(), CliError> {
    applications::revoke_tokens(db, &writer(db, keks)?, client_id, now_micros()).await?;
    print_json(&serde_json::json!({
        "client_id": client_id,
        "tokens_revoked": true,
        "message": format!("every token issued to {client_id} before now is refused"),
    }))
}

async fn app_delete(
    db: &Db,
    keks: Option<&signing::KekRing>,
    client_id: &str,
) -> Result<(), CliError> {
    applications::delete(db, &writer(db, keks)?, client_id, now_micros()).await?;
    print_json(&serde_json::json!({"client_id": client_id, "deleted": true}))
}

// --- API keys ----------------------------------------------------------------------------------

async fn key(
    command: KeyCommand,
    db: &Db,
    keks: Option<&signing::KekRing>,
) -> Result<(), CliError> {
    match command {
        KeyCommand::Create(k) => key_create(db, keks, k).await,
        KeyCommand::List(o) => {
            print_list(&api_keys::list(db, &Default::default()).await?, o.output)
        }
        KeyCommand::Show { id, output } => print_one(&api_keys::get(db, &id).await?, output.output),
        KeyCommand::Revoke { id } => key_revoke(db, keks, &id).await,
    }
}

async fn key_create(
    db: &Db,
    keks: Option<&signing::KekRing>,
    k: KeyCreate,
) -> Result<(), CliError> {
    let now = now_micros();
    let new = api_keys::CreateApiKey {
        name: k.name,
        description: k.description,
        environment: k.environment,
        scopes: trimmed(k.scopes),
        tier: k.tier,
        expires_at: k.expires_at,
    }
    .validate(now)?;
    print_json(&api_keys::create(db, &writer(db, keks)?, new, now).await?)?;
    eprintln!("Store the key now: it cannot be shown again.");
    Ok(())
}

async fn key_revoke(db: &Db, keks: Option<&signing::KekRing>, id: &str) -> Result<(), CliError> {
    api_keys::revoke(db, &writer(db, keks)?, id, now_micros()).await?;
    print_json(&serde_json::json!({"id": id, "revoked": true}))
}

// --- signing keys ------------------------------------------------------------------------------

async fn keys(
    command: KeysCommand,
    db: &Db,
    keks: Option<&signing::KekRing>,
) -> Result<(), CliError> {
    match command {
        KeysCommand::Rotate => keys_rotate(db, keks_of(keks)?),
        KeysCommand::Revoke { kid } => keys_revoke(db, keks_of(keks)?, &kid),
        KeysCommand::List(o) => print_list(&signing::list(db, now_micros()).await?, o.output),
    }
}

fn keys_rotate(db: &Db, keks: &signing::KekRing) -> Result<(), CliError> {
    let now = now_micros();
    // Make sure a key exists first, so that rotation always retires something real (this also
    // re-seals the keys and prepares the audit chain).
    signing::KeyStore::load_or_create(db, keks, now)?;
    // A fresh timestamp, so that the new key is strictly the newest.
    let kid = signing::rotate(
        db,
        &AuditContext::cli(&keks.audit_keys().current),
        &keks.current,
        now_micros().max(now + 1),
    )?;
    print_json(&serde_json::json!({
        "active_kid": kid,
        "message": "previous keys stay published until their tokens expire",
    }))
}

fn keys_revoke(db: &Db, keks: &signing::KekRing, kid: &str) -> Result<(), CliError> {
    let ctx = writer(db, Some(keks))?;
    match signing::revoke(db, &ctx, &keks.current, kid, now_micros())? {
        None => Err(CliError::Other(format!("no signing key {kid}"))),
        Some(active) => print_json(&serde_json::json!({
            "revoked_kid": kid,
            "active_kid": active,
            "message": "unpublished; every token it signed is refused",
        })),
    }
}

// --- token helper ------------------------------------------------------------------------------

/// `auth-server token`: the client-credentials grant against a running server, through
/// `shared`'s token source (rustls, system roots or `SSL_CERT_FILE`, no redirects).
async fn token(args: TokenArgs) -> Result<(), CliError> {
    let issuer = args.issuer.trim().trim_end_matches('/');
    if !(issuer.starts_with("http://") || issuer.starts_with("https://")) {
        return Err(CliError::Invalid {
            flag: "issuer",
            message: format!("`{issuer}` is not an http:// or https:// URL"),
        });
    }
    let secret = client_secret(args.client_secret_stdin)?;
    let scopes: Vec<&str> = args
        .scope
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .collect();
    let source = shared::client::TokenSource::new(
        &format!("{issuer}/oauth/token"),
        args.client_id,
        secret.expose(),
        &scopes,
    )
    .map_err(|_| CliError::Invalid {
        flag: "issuer",
        message: format!("`{issuer}` is not a URL"),
    })?;
    let grant = source
        .fetch_grant()
        .await
        .map_err(|e| CliError::Other(format!("no token: {e}")))?;
    match args.output {
        TokenOutput::Token => out(grant.access_token.expose()),
        TokenOutput::Json => print_json(&serde_json::json!({
            "access_token": grant.access_token.expose(),
            "token_type": grant.token_type,
            "expires_in": grant.expires_in.map(|d| d.as_secs()),
            "scope": grant.scope,
        }))?,
    }
    Ok(())
}

// --- operators ---------------------------------------------------------------------------------

fn parse_email(raw: &str) -> Result<Email, CliError> {
    Email::parse(raw).map_err(|m| CliError::Invalid {
        flag: "email",
        message: m.to_string(),
    })
}

fn parse_role(raw: &str) -> Result<Role, CliError> {
    raw.parse().map_err(|m: String| CliError::Invalid {
        flag: "role",
        message: m,
    })
}

async fn find_operator(db: &Db, email: &Email) -> Result<OperatorView, CliError> {
    operators::find_by_email(db, email)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => {
                CliError::Other(format!("no operator with the email {email} exists"))
            }
            other => CliError::Service(other),
        })
}

async fn operator(
    command: OperatorCommand,
    db: &Db,
    config: &Config,
    keks: Option<&signing::KekRing>,
) -> Result<(), CliError> {
    let now = now_micros();
    match command {
        OperatorCommand::Create {
            email,
            role,
            password_stdin,
        } => {
            // Every flag is checked before anything is read or written.
            let email = parse_email(&email)?;
            let role = parse_role(&role)?;
            let password = if password_stdin {
                Some(operator_password_from_stdin()?)
            } else {
                None
            };
            let cost = config.console.operator_bcrypt_cost;
            let created =
                operators::create(db, &writer(db, keks)?, email, role, password, cost, now).await?;
            let setup_link = created
                .setup_token
                .as_ref()
                .map(|t| operators::setup_link(&config.issuer, t));
            print_json(&serde_json::json!({
                "operator": created.operator,
                "setup_link": setup_link,
            }))?;
            if setup_link.is_some() {
                eprintln!(
                    "Send the setup_link to the operator now: it works once, for 24 hours, and cannot be shown again."
                );
            }
            Ok(())
        }
        OperatorCommand::List(o) => print_list(&operators::list(db).await?, o.output),
        OperatorCommand::Disable { email } => {
            let op = find_operator(db, &parse_email(&email)?).await?;
            let op = operators::set_disabled(db, &writer(db, keks)?, &op.id, true, now).await?;
            print_json(&op)
        }
        OperatorCommand::Enable { email } => {
            let op = find_operator(db, &parse_email(&email)?).await?;
            let op = operators::set_disabled(db, &writer(db, keks)?, &op.id, false, now).await?;
            print_json(&op)
        }
        OperatorCommand::ResetTotp { email } => {
            let op = find_operator(db, &parse_email(&email)?).await?;
            let op = operators::reset_totp(db, &writer(db, keks)?, &op.id, now).await?;
            print_json(&op)
        }
        OperatorCommand::SetRole { email, role } => {
            let email = parse_email(&email)?;
            let role = parse_role(&role)?;
            let op = find_operator(db, &email).await?;
            let op = operators::set_role(db, &writer(db, keks)?, &op.id, role, now).await?;
            print_json(&op)
        }
        OperatorCommand::SetupLink { email } => {
            let op = find_operator(db, &parse_email(&email)?).await?;
            let token = operators::new_setup_link(db, &writer(db, keks)?, &op.id, now).await?;
            print_json(&serde_json::json!({
                "operator": op,
                "setup_link": operators::setup_link(&config.issuer, &token),
            }))?;
            eprintln!("Send the setup_link to the operator now: it works once, for 24 hours.");
            Ok(())
        }
    }
}

/// The operator's password: the first line of standard input, without its line ending (spaces
/// are part of a password).
fn operator_password_from_stdin() -> Result<Password, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| {
            CliError::Other(format!("--password-stdin: cannot read standard input: {e}"))
        })?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(CliError::Other(
            "--password-stdin: standard input holds no password".to_owned(),
        ));
    }
    Password::parse(line).map_err(|m| CliError::Invalid {
        flag: "password-stdin",
        message: format!("the password {m}"),
    })
}

/// The client secret from standard input (its first line) or `CLIENT_SECRET`.
fn client_secret(from_stdin: bool) -> Result<shared::Secret, CliError> {
    let value = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| {
                CliError::Other(format!(
                    "--client-secret-stdin: cannot read standard input: {e}"
                ))
            })?;
        text.lines().next().unwrap_or("").trim().to_owned()
    } else {
        std::env::var("CLIENT_SECRET").unwrap_or_default()
    };
    if value.is_empty() {
        return Err(if from_stdin {
            CliError::Other(
                "--client-secret-stdin: standard input holds no client secret".to_owned(),
            )
        } else {
            CliError::Other(
                "no client secret: pipe it in with --client-secret-stdin or set CLIENT_SECRET"
                    .to_owned(),
            )
        });
    }
    Ok(shared::Secret::new(value))
}

// --- audit trail ---------------------------------------------------------------------------------

async fn audit(
    command: AuditCommand,
    db: &Db,
    keks: Option<&signing::KekRing>,
) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify(v) => audit_verify(db, keks_of(keks)?, v).await,
        AuditCommand::Export(a) => {
            let filter = audit::AuditFilter::parse(
                a.actor.as_deref(),
                a.action.as_deref(),
                a.target.as_deref(),
                a.from.as_deref(),
                a.to.as_deref(),
            )?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let events = audit::list_forward(db, &filter, after, 500).await?;
                let Some(last) = events.last() else { break };
                after = last.seq;
                for event in &events {
                    serde_json::to_writer(&mut out, event)?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(out.flush()?)
        }
    }
}

/// `audit verify`: the whole chain under the configured KEK(s), then the head and count kept
/// elsewhere. The normal answer is the one line it has always been (or JSON with
/// `--output json`); notes about events before the keyed chain or under the previous KEK go to
/// stderr.
async fn audit_verify(db: &Db, keks: &signing::KekRing, v: AuditVerify) -> Result<(), CliError> {
    let expect_head = match v.expect_head.as_deref().map(str::trim) {
        None => None,
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(CliError::Invalid {
                flag: "expect-head",
                message: "must be the 64 hex characters of a head `audit verify` printed"
                    .to_owned(),
            })
        }
    };
    let keys = keks.audit_keys();
    let head = expect_head.clone();
    let report = db
        .run(move |c| audit::verify(c, &keys, head.as_deref()))
        .await
        .map_err(CliError::AuditTrail)?;
    let outcome = match &report.broken {
        Some((seq, why)) => Err(format!(
            "audit chain broken at event {seq}: {why} ({} events before it are intact)",
            report.events
        )),
        None => report.check_expected(expect_head.as_deref(), v.expect_count),
    };
    match v.output {
        VerifyOutput::Json => print_json(&verify_json(&report, &outcome))?,
        VerifyOutput::Text if outcome.is_ok() => out(&format!(
            "audit chain intact: {} events, head {}",
            report.events, report.head
        )),
        VerifyOutput::Text => {}
    }
    if report.broken.is_none() {
        if report.legacy_events > 0 {
            eprintln!(
                "note: events 1 to {} predate the keyed chain (plain SHA-256 links); the keyed anchor after them protects them",
                report.legacy_events
            );
        }
        if report.previous_key_events > 0 {
            eprintln!(
                "note: events under SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS: {}; the next start with both keys re-keys them (keep the previous key until then)",
                report.previous_key_events
            );
        }
    }
    outcome.map_err(CliError::Other)
}

/// What `audit verify --output json` prints.
fn verify_json(report: &ChainReport, outcome: &Result<(), String>) -> serde_json::Value {
    serde_json::json!({
        "ok": outcome.is_ok(),
        "intact": report.broken.is_none(),
        "events": report.events,
        "head": report.head,
        "broken_at": report.broken.as_ref().map(|(seq, _)| seq),
        "error": outcome.as_ref().err(),
        "legacy_events": report.legacy_events,
        "previous_kek_events": report.previous_key_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kid_that_begins_with_a_hyphen_is_a_kid_not_a_flag() {
        let cli = Cli::try_parse_from(["auth-server", "keys", "revoke", "-I8xQ"]).unwrap();
        let Some(Command::Keys(KeysCommand::Revoke { kid })) = cli.command else {
            panic!("parsed as {cli:?}");
        };
        assert_eq!(kid, "-I8xQ");
    }
}
