//! The audit trail: who changed which credential or operator, from where, with what outcome.
//!
//! Every service function that changes a credential or an operator takes an [`AuditContext`]
//! (built once per request or CLI run) and records an [`AuditEvent`] in the same transaction as
//! the change, so an event exists exactly when its change committed. Events never hold a
//! secret: `fields` names what changed and the new non-secret values.

use diesel::QueryResult;
use shared::db::{Db, DbConnection};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator signed in to the console.
    Operator { id: String, email: String },
    /// A caller of the admin API, authenticated with `ADMIN_TOKEN`.
    AdminToken,
    /// The command line, with the OS user that ran it.
    Cli { os_user: String },
    /// The server itself (e.g. the first signing key created at start).
    System,
}

/// Who did it and from where: built once per request (or CLI run) and passed to every service
/// function that changes a credential or an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: Actor,
    /// The request's source address; `None` for the CLI and the server itself.
    pub source: Option<String>,
}

impl AuditContext {
    pub fn admin_token(source: Option<String>) -> Self {
        AuditContext {
            actor: Actor::AdminToken,
            source,
        }
    }

    pub fn operator(
        id: impl Into<String>,
        email: impl Into<String>,
        source: Option<String>,
    ) -> Self {
        AuditContext {
            actor: Actor::Operator {
                id: id.into(),
                email: email.into(),
            },
            source,
        }
    }

    /// The command line, as the OS user in `$USER` (or `$LOGNAME`).
    pub fn cli() -> Self {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        AuditContext {
            actor: Actor::Cli { os_user },
            source: None,
        }
    }

    pub fn system() -> Self {
        AuditContext {
            actor: Actor::System,
            source: None,
        }
    }
}

/// How the attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Refused: not allowed, wrong password, CSRF failure.
    Denied,
    /// Allowed but failed (validation, conflict).
    Failed,
}

/// One event. `action` is `<object>.<verb>` (e.g. `application.create`, `api_key.revoke`,
/// `operator.disable`, `session.login`); `target` the id it acted on (`app_…`, `key_…`, a
/// signing `kid`, an operator id); `fields` the changed fields — never a secret.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: &'static str,
    pub target: String,
    pub outcome: Outcome,
    pub fields: serde_json::Value,
}

impl AuditEvent {
    pub fn success(
        action: &'static str,
        target: impl Into<String>,
        fields: serde_json::Value,
    ) -> Self {
        AuditEvent {
            action,
            target: target.into(),
            outcome: Outcome::Success,
            fields,
        }
    }
}

/// Appends `event` inside the caller's transaction, so it commits with the change it describes.
pub fn record(
    _c: &mut DbConnection,
    _ctx: &AuditContext,
    _event: &AuditEvent,
    _now: i64,
) -> QueryResult<()> {
    // The hash-chained store lands with the audit trail (issue 11); until then this is the
    // one call site every writer already goes through.
    Ok(())
}

/// Appends `event` in a transaction of its own (failed logins, refused requests). Never fails
/// the request it describes: an error is logged.
pub async fn record_alone(db: &Db, ctx: &AuditContext, event: AuditEvent, now: i64) {
    let ctx = ctx.clone();
    let action = event.action;
    if let Err(e) = db.run(move |c| record(c, &ctx, &event, now)).await {
        tracing::warn!("audit event {action} not recorded: {e}");
    }
}
