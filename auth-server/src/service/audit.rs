//! The audit trail: who changed which credential or operator, from where, with what outcome.
//!
//! Every service function that changes a credential or an operator takes an [`AuditContext`]
//! (built once per request or CLI run) and records an [`AuditEvent`] in the same transaction as
//! the change, so an event exists exactly when its change committed. Events never hold a
//! secret: `fields` names what changed and the new non-secret values.
//!
//! **Invariant: the trail is one hash chain.** Events are numbered by the database (`seq` =
//! `MAX + 1` under the writer lock shared with the credential change feed, so numbers are dense
//! and committed in order), and each stores `hash = SHA-256(prev_hash ‖ canonical form)` where
//! `prev_hash` is the previous event's `hash` (64 zeros before the first). Changing, inserting
//! or deleting any event but the newest breaks the chain, which [`verify`] finds; removing the
//! newest events is found by comparing the head ([`ChainReport::head`]) with one kept elsewhere
//! (docs/SECURITY.md). The canonical form is [`canonical`], over the stored columns exactly.

use diesel::prelude::*;
use diesel::QueryResult;
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::db::schema::audit_events;
use shared::db::{Db, DbConnection};
use utoipa::ToSchema;

use crate::error::{Error, Result};

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

    /// The stored `(actor_type, actor_id, actor_label)`.
    fn columns(&self) -> (&'static str, &str, &str) {
        match &self.actor {
            Actor::Operator { id, email } => ("operator", id, email),
            Actor::AdminToken => ("admin_token", "admin-token", ""),
            Actor::Cli { os_user } => ("cli", os_user, ""),
            Actor::System => ("system", "system", ""),
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

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

impl AuditEvent {
    pub fn denied(
        action: &'static str,
        target: impl Into<String>,
        fields: serde_json::Value,
    ) -> Self {
        AuditEvent {
            outcome: Outcome::Denied,
            ..AuditEvent::success(action, target, fields)
        }
    }

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

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored event, as read back.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub seq: i64,
    pub at: i64,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_label: String,
    pub action: String,
    pub target: String,
    pub source: Option<String>,
    pub outcome: String,
    pub fields: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What is hashed: every stored column but the hashes, as one JSON array (fixed order, JSON
/// string escaping, so no two different events share a form).
pub fn canonical(row: &AuditEventRow) -> String {
    serde_json::json!([
        row.seq,
        row.at,
        row.actor_type,
        row.actor_id,
        row.actor_label,
        row.action,
        row.target,
        row.source,
        row.outcome,
        row.fields,
    ])
    .to_string()
}

/// `hex(SHA-256(prev_hash ‖ canonical))`.
pub fn chain_hash(prev_hash: &str, row: &AuditEventRow) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical(row).as_bytes());
    hex::encode(h.finalize())
}

/// Appends `event` inside the caller's transaction, so it commits with the change it describes.
pub fn record(
    c: &mut DbConnection,
    ctx: &AuditContext,
    event: &AuditEvent,
    now: i64,
) -> QueryResult<()> {
    shared::changes::lock_writers(c)?;
    let newest: Option<i64> = audit_events::table
        .select(diesel::dsl::max(audit_events::seq))
        .get_result(c)?;
    let last: Option<(i64, String)> = match newest {
        Some(seq) => Some((
            seq,
            audit_events::table
                .find(seq)
                .select(audit_events::hash)
                .get_result(c)?,
        )),
        None => None,
    };
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let (actor_type, actor_id, actor_label) = ctx.columns();
    let mut row = AuditEventRow {
        seq,
        at: now,
        actor_type: actor_type.to_owned(),
        actor_id: actor_id.to_owned(),
        actor_label: actor_label.to_owned(),
        action: event.action.to_owned(),
        target: event.target.clone(),
        source: ctx.source.clone(),
        outcome: event.outcome.as_str().to_owned(),
        fields: event.fields.to_string(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = chain_hash(&row.prev_hash, &row);
    diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(c)?;
    Ok(())
}

/// Appends `event` in a transaction of its own (failed logins, refused requests). Never fails
/// the request it describes: an error is logged.
pub async fn record_alone(db: &Db, ctx: &AuditContext, event: AuditEvent, now: i64) {
    let ctx = ctx.clone();
    let action = event.action;
    if let Err(e) = db
        .run(move |c| c.transaction(|c| record(c, &ctx, &event, now)))
        .await
    {
        tracing::warn!("audit event {action} not recorded: {e}");
    }
}

/// Which events to read: every given field must match exactly; `from`/`to` bound `at` (Unix
/// microseconds, `from` inclusive, `to` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One event as the admin API, the console and the export show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// `operator`, `admin_token`, `cli` or `system`.
    pub actor_type: String,
    /// Operator id, `admin-token`, the OS user, or `system`.
    pub actor_id: String,
    /// The operator's email at the time; empty for other actors.
    pub actor_label: String,
    /// `<object>.<verb>`, e.g. `api_key.create`.
    pub action: String,
    pub target: String,
    pub source: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// The changed fields; never a secret.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditFilter {
    /// From the text of a query or command line: empty values are absent, times are RFC 3339.
    pub fn parse(
        actor: Option<&str>,
        action: Option<&str>,
        target: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<AuditFilter> {
        fn text(field: &'static str, v: Option<&str>) -> Result<Option<String>> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) if v.len() > 200 => {
                    Err(Error::validation(field, "must be at most 200 characters"))
                }
                Some(v) => Ok(Some(v.to_owned())),
                None => Ok(None),
            }
        }
        fn time(field: &'static str, v: Option<&str>) -> Result<Option<i64>> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => shared::time::parse_rfc3339(v).map(Some).ok_or_else(|| {
                    Error::validation(field, "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")
                }),
                None => Ok(None),
            }
        }
        let filter = AuditFilter {
            actor: text("actor", actor)?,
            action: text("action", action)?,
            target: text("target", target)?,
            from: time("from", from)?,
            to: time("to", to)?,
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from >= to {
                return Err(Error::validation("to", "must be later than from"));
            }
        }
        Ok(filter)
    }
}

impl AuditEventView {
    fn from_row(row: AuditEventRow) -> Self {
        AuditEventView {
            seq: row.seq,
            at: shared::time::rfc3339(row.at),
            // Stored by `record` from a `serde_json::Value`; a row edited into invalid JSON
            // is shown as its text (and `verify` reports the edit).
            fields: serde_json::from_str(&row.fields)
                .unwrap_or(serde_json::Value::String(row.fields)),
            actor_type: row.actor_type,
            actor_id: row.actor_id,
            actor_label: row.actor_label,
            action: row.action,
            target: row.target,
            source: row.source,
            outcome: row.outcome,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// Newest first: at most `limit` events matching `filter` with `seq < before_seq`.
pub async fn list(
    db: &Db,
    filter: &AuditFilter,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEventView>> {
    let filter = filter.clone();
    let rows = db
        .run(move |c| {
            let mut q = filtered(&filter);
            if let Some(before) = before_seq {
                q = q.filter(audit_events::seq.lt(before));
            }
            q.order(audit_events::seq.desc()).limit(limit).load(c)
        })
        .await?;
    Ok(rows.into_iter().map(AuditEventView::from_row).collect())
}

/// Oldest first: at most `limit` events matching `filter` with `seq > after_seq` (the export
/// reads the trail in such batches).
pub async fn list_forward(
    db: &Db,
    filter: &AuditFilter,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditEventView>> {
    let filter = filter.clone();
    let rows = db
        .run(move |c| {
            filtered(&filter)
                .filter(audit_events::seq.gt(after_seq))
                .order(audit_events::seq.asc())
                .limit(limit)
                .load(c)
        })
        .await?;
    Ok(rows.into_iter().map(AuditEventView::from_row).collect())
}

fn filtered(
    filter: &AuditFilter,
) -> audit_events::BoxedQuery<'static, shared::db::Backend, audit_events::SqlType> {
    let mut q = audit_events::table.into_boxed();
    if let Some(actor) = &filter.actor {
        q = q.filter(audit_events::actor_id.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(target) = &filter.target {
        q = q.filter(audit_events::target.eq(target.clone()));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_events::at.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_events::at.lt(to));
    }
    q
}

/// The events matching `filter`, oldest first, as JSON lines: read in batches of 500 as the
/// client consumes them. A database error ends the stream early (the client sees a short body
/// without a final newline-terminated event; the error is logged).
pub fn export(
    db: Db,
    filter: AuditFilter,
) -> impl futures_util::Stream<Item = std::result::Result<actix_web::web::Bytes, Error>> {
    const BATCH: i64 = 500;
    futures_util::stream::try_unfold(Some(0), move |after| {
        let (db, filter) = (db.clone(), filter.clone());
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let events = match list_forward(&db, &filter, after, BATCH).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!("audit export stopped: {e}");
                    return Err(e);
                }
            };
            if events.is_empty() {
                return Ok(None);
            }
            let next = ((events.len() as i64) == BATCH).then(|| events[events.len() - 1].seq);
            let mut out = Vec::with_capacity(events.len() * 300);
            for event in &events {
                serde_json::to_writer(&mut out, event)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                out.push(b'\n');
            }
            Ok(Some((actix_web::web::Bytes::from(out), next)))
        }
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events read.
    pub events: i64,
    /// The newest event's hash ([`GENESIS`] for an empty trail): keep it elsewhere to detect a
    /// truncation later.
    pub head: String,
    /// The first event that does not fit the chain, and why.
    pub broken: Option<(i64, String)>,
}

/// Reads the whole trail in order, in batches, and checks the numbering, each link and each
/// hash. Stops at the first break.
pub fn verify(c: &mut DbConnection) -> QueryResult<ChainReport> {
    const BATCH: i64 = 1_000;
    let mut report = ChainReport {
        events: 0,
        head: GENESIS.to_owned(),
        broken: None,
    };
    let mut expected_seq = 1;
    loop {
        let rows: Vec<AuditEventRow> = audit_events::table
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(BATCH)
            .select(AuditEventRow::as_select())
            .load(c)?;
        let done = (rows.len() as i64) < BATCH;
        for row in rows {
            let problem = if row.seq != expected_seq {
                Some(format!("event {expected_seq} is missing"))
            } else if row.prev_hash != report.head {
                Some("prev_hash is not the previous event's hash".to_owned())
            } else if chain_hash(&row.prev_hash, &row) != row.hash {
                Some("its contents do not match its hash".to_owned())
            } else {
                None
            };
            if let Some(why) = problem {
                report.broken = Some((expected_seq, why));
                return Ok(report);
            }
            report.events += 1;
            report.head = row.hash;
            expected_seq += 1;
        }
        if done {
            return Ok(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AuditEventRow {
        AuditEventRow {
            seq: 1,
            at: 1_700_000_000_000_000,
            actor_type: "cli".into(),
            actor_id: "ops".into(),
            actor_label: String::new(),
            action: "api_key.create".into(),
            target: "key_1".into(),
            source: None,
            outcome: "success".into(),
            fields: r#"{"name":"ci"}"#.into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn every_hashed_column_changes_the_hash() {
        let base = chain_hash(GENESIS, &row());
        let edits: [fn(&mut AuditEventRow); 10] = [
            |r| r.seq = 2,
            |r| r.at += 1,
            |r| r.actor_type = "operator".into(),
            |r| r.actor_id = "opx".into(),
            |r| r.actor_label = "x".into(),
            |r| r.action = "api_key.revoke".into(),
            |r| r.target = "key_2".into(),
            |r| r.source = Some("127.0.0.1".into()),
            |r| r.outcome = "denied".into(),
            |r| r.fields = r#"{"name":"cj"}"#.into(),
        ];
        for edit in edits {
            let mut r = row();
            edit(&mut r);
            assert_ne!(chain_hash(GENESIS, &r), base);
        }
        assert_ne!(chain_hash(&"1".repeat(64), &row()), base);
    }

    #[test]
    fn column_boundaries_are_unambiguous() {
        let mut a = row();
        a.actor_id = "a\",\"b".into();
        let mut b = row();
        b.actor_id = "a".into();
        b.actor_label = "b".into();
        assert_ne!(canonical(&a), canonical(&b));
    }
}
