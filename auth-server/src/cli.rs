//! The command line: `serve` (default), `migrate`, and the ops commands that mirror the admin
//! API for people without HTTP access. Secrets are printed once; invalid values exit non-zero
//! with a message naming the flag.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use shared::db::Db;

use crate::config::Config;
use crate::db::signing_keys::SigningKeyRow;
use crate::error::Error;
use crate::service::{api_keys, applications, now_micros, signing};
use crate::Application;

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
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage applications (OAuth clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an application; prints its client_id and client_secret (once).
    Create(AppCreate),
    /// List applications.
    List,
    /// Show one application.
    Show { client_id: String },
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
    /// Delete an application.
    Delete { client_id: String },
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
    /// live or sandbox (default live).
    #[arg(long)]
    pub environment: Option<String>,
    /// basic, standard, professional, enterprise or unlimited (default standard).
    #[arg(long)]
    pub tier: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; prints the key (once).
    Create(KeyCreate),
    /// List API keys, newest first.
    List,
    /// Revoke an API key.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct KeyCreate {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// sandbox or live.
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
    Revoke { kid: String },
    /// List signing keys.
    List,
}

/// Runs the parsed command and turns the outcome into an exit code.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(errors) => {
            errors.report("auth-server");
            return ExitCode::from(2);
        }
    };
    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            other => {
                let db = Db::connect(&config.database_url, 2)
                    .map_err(|e| format!("DATABASE_URL: {e}"))?;
                ops(other, &db, &config).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("auth-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    if config.admin_token.is_none() {
        log::warn!("ADMIN_TOKEN is not set: the admin API answers 401 to everything");
    }
    let app = Application::build(config).await?;
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

/// The KEKs from the configuration; commands that touch private signing keys need them.
fn kek_ring(config: &Config) -> Result<signing::KekRing, String> {
    let current = config.signing_key_encryption_key.clone().ok_or(
        "SIGNING_KEY_ENCRYPTION_KEY is not set: private signing keys are encrypted at rest with it",
    )?;
    Ok(signing::KekRing::new(
        current,
        config.previous_signing_key_encryption_key.clone(),
    ))
}

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn describe(e: Error) -> String {
    match e {
        Error::Validation { field, message } => {
            format!("invalid --{}: {message}", field.replace('_', "-"))
        }
        Error::NotFound(what) => format!("no {what} with this id exists"),
        other => other.to_string(),
    }
}

async fn ops(command: Command, db: &Db, config: &Config) -> Result<(), String> {
    let now = now_micros();
    match command {
        Command::Serve => unreachable!("serve is handled by run"),
        Command::Migrate => {
            println!("migrations are up to date ({})", db.target().describe());
            Ok(())
        }
        Command::App(cmd) => match cmd {
            AppCommand::Create(a) => {
                let new = applications::CreateApplication {
                    name: a.name,
                    description: a.description,
                    scopes: a.scopes,
                    environment: a.environment,
                    tier: a.tier,
                    introspection: None,
                }
                .validate()
                .map_err(describe)?;
                let created = applications::create(db, new, config.bcrypt_cost, now)
                    .await
                    .map_err(describe)?;
                print_json(&created)?;
                eprintln!("Store the client_secret now: it cannot be shown again.");
                Ok(())
            }
            AppCommand::List => print_json(
                &serde_json::json!({ "data": applications::list(db).await.map_err(describe)? }),
            ),
            AppCommand::Show { client_id } => {
                print_json(&applications::get(db, &client_id).await.map_err(describe)?)
            }
            AppCommand::RotateSecret {
                client_id,
                grace_period_seconds,
                revoke_tokens,
            } => {
                let options = applications::RotateSecret {
                    grace_period_seconds,
                    revoke_tokens: Some(revoke_tokens),
                };
                let rotated =
                    applications::rotate_secret(db, &client_id, options, config.bcrypt_cost, now)
                        .await
                        .map_err(describe)?;
                print_json(&rotated)?;
                eprintln!("Store the client_secret now: it cannot be shown again.");
                Ok(())
            }
            AppCommand::Disable { client_id } => {
                let patch = applications::PatchApplication {
                    disabled: Some(true),
                    ..Default::default()
                };
                print_json(
                    &applications::patch(db, &client_id, patch, now)
                        .await
                        .map_err(describe)?,
                )
            }
            AppCommand::RevokeTokens { client_id } => {
                applications::revoke_tokens(db, &client_id, now)
                    .await
                    .map_err(describe)?;
                println!("every token issued to {client_id} before now is revoked");
                Ok(())
            }
            AppCommand::Delete { client_id } => {
                applications::delete(db, &client_id, now)
                    .await
                    .map_err(describe)?;
                println!("deleted {client_id}");
                Ok(())
            }
        },
        Command::Key(cmd) => match cmd {
            KeyCommand::Create(k) => {
                let new = api_keys::CreateApiKey {
                    name: k.name,
                    description: k.description,
                    environment: k.environment,
                    scopes: k.scopes,
                    tier: k.tier,
                    expires_at: k.expires_at,
                }
                .validate(now)
                .map_err(describe)?;
                print_json(&api_keys::create(db, new, now).await.map_err(describe)?)?;
                eprintln!("Store the key now: it cannot be shown again.");
                Ok(())
            }
            KeyCommand::List => print_json(
                &serde_json::json!({ "data": api_keys::list(db).await.map_err(describe)? }),
            ),
            KeyCommand::Revoke { id } => {
                api_keys::revoke(db, &id, now).await.map_err(describe)?;
                println!("revoked {id}");
                Ok(())
            }
        },
        Command::Keys(cmd) => match cmd {
            KeysCommand::Rotate => {
                let keks = kek_ring(config)?;
                // Make sure a key exists first, so that rotation always retires something real.
                signing::KeyStore::load_or_create(db, &keks, now)?;
                // A fresh timestamp, so that the new key is strictly the newest.
                let kid = signing::rotate(db, &keks.current, now_micros().max(now + 1))
                    .map_err(|e| e.to_string())?;
                println!("new active signing key {kid}; previous keys stay published until their tokens expire");
                Ok(())
            }
            KeysCommand::Revoke { kid } => {
                let keks = kek_ring(config)?;
                let active = signing::revoke(db, &keks.current, &kid, now_micros().max(now + 1))
                    .map_err(|e| e.to_string())?;
                match active {
                    None => Err(format!("no signing key {kid}")),
                    Some(active) => {
                        println!("signing key {kid} revoked; tokens it signed are refused; active key {active}");
                        Ok(())
                    }
                }
            }
            KeysCommand::List => {
                let rows = db
                    .run(SigningKeyRow::all)
                    .await
                    .map_err(|e| e.to_string())?;
                let window = signing::retired_publish_window_micros();
                let list: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        let status = match r.retired_at {
                            None => "active",
                            Some(t) if t + window > now => "retired (still published)",
                            Some(_) => "retired",
                        };
                        serde_json::json!({
                            "kid": r.kid,
                            "algorithm": r.algorithm,
                            "status": status,
                            "created_at": shared::time::rfc3339(r.created_at),
                            "retired_at": r.retired_at.map(shared::time::rfc3339),
                        })
                    })
                    .collect();
                print_json(&serde_json::json!({ "data": list }))
            }
        },
    }
}
