//! The audit trail: who changed which credential or operator, from where, with what outcome.
//!
//! Every service function that changes a credential or an operator takes an [`AuditContext`]
//! (built once per request or CLI run) and writes through [`change`], the one helper that
//! appends the audit event and, for credentials the resource API follows, the credential
//! change-feed entry (`shared::changes`) in the caller's transaction — so an event exists
//! exactly when its change committed, and neither record can be forgotten. Events never hold a
//! secret: `fields` names what changed and the new non-secret values. Refused attempts (failed
//! sign-ins, refused console actions) are not written one by one: [`AuditAggregator`] counts
//! them in memory and writes one `denied` event per (action, actor, source, target) and window.
//!
//! **Invariant: the trail is one keyed chain.** Events are numbered by the database (`seq` =
//! `MAX + 1` under the writer lock shared with the credential change feed, so numbers are dense
//! and committed in order), and each stores `hash = HMAC-SHA256(K, prev_hash ‖ canonical form)`
//! where `prev_hash` is the previous event's `hash` (64 zeros before the first) and the
//! canonical form is [`canonical`], over the stored columns exactly. `K` is derived from the
//! key-encryption key: `K = HKDF-SHA256(SIGNING_KEY_ENCRYPTION_KEY, info =` [`MAC_KEY_INFO`]`)`
//! ([`AuditKey`], through `Kek::derive_key` and its fixed salt); it lives only in memory, never
//! in the database. Changing, inserting or deleting any event but the newest breaks the chain,
//! which [`verify`] finds — and, unlike a plain hash chain, recomputing the chain after an edit
//! needs `K`, so someone with the database alone cannot rewrite history. Whoever holds the KEK
//! can (docs/SECURITY.md T15). Removing the newest events (or every event) is found by
//! comparing with a head and count kept elsewhere ([`ChainReport::check_expected`],
//! `auth-server audit verify --expect-head … --expect-count …`).
//!
//! **KEK rotation.** The chain is re-keyed in the step that re-seals the signing keys
//! (`KeyStore::load_or_create`, at every start and before `keys` commands) and before every
//! writing CLI command ([`prepare`]): with `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS` set, the whole
//! chain is verified under the two keys and, if intact, every MAC from the first one under the
//! previous key on is recomputed under the current key — one transaction under the writer lock,
//! then an `audit.rekey` event. Without a previous KEK, preparing reads only the oldest event and
//! the anchor's position. A replica still running with the old KEK alone may write events
//! under the old key after that; [`verify`] accepts an event under either key of its ring (and
//! counts those under the previous one), and the next start with both KEKs re-keys them. Only
//! once `verify` with the new KEK alone passes is the previous KEK dropped. A chain that does
//! not verify is never re-keyed (that would launder the edit): it is left as it is, and the
//! start logs the break.
//!
//! **Upgrade from the plain chain.** Trails written before the chain was keyed hold plain
//! SHA-256 links (`hash = SHA-256(prev_hash ‖ canonical)`). They are not rewritten: the first
//! process of this version that prepares the chain checks the plain chain and appends one
//! keyed anchor event, [`ANCHOR_ACTION`], with the number of plain events, their head and
//! whether their chain was intact. The anchor's `prev_hash` is the plain head and its MAC
//! covers it, so an edit of any older event (recomputing the plain chain changes the head) is
//! still found; a break that existed before the upgrade stays visible. [`verify`] accepts plain
//! links only before the first anchor; a trail with no anchor must be keyed from its first
//! event, so converting a keyed trail back to plain hashes does not verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::Connection;
use diesel::QueryResult;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::changes::{self, ChangeKind};
use shared::db::{Db, DbConnection, DbError};
use utoipa::ToSchema;

pub use crate::db::audit_events::{AuditEventRow, AuditFilter};
use crate::error::{Error, Result};
use crate::kek::Kek;

/// The HKDF purpose (`info`) of the chain's MAC key ([`Kek::derive_key`]). Fixed: changing it
/// breaks every existing chain.
pub const MAC_KEY_INFO: &str = "caseforge audit-chain hmac-sha256 v1";
/// The action of the event that anchors a plain (pre-keyed) trail to the keyed chain.
pub const ANCHOR_ACTION: &str = "audit.chain_keyed";
/// The action of the event written after the chain was re-keyed under a new KEK.
pub const REKEY_ACTION: &str = "audit.rekey";
/// The action of an aggregated refused console action (`fields.operation` names it).
pub const CONSOLE_REFUSED: &str = "console.refused";
/// A request to the admin API with a wrong admin token, aggregated per source and window.
pub const ADMIN_TOKEN_REFUSED: &str = "admin.token_refused";

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// An operator signed in to the console.
    Operator { id: String, email: String },
    /// A caller of the admin API, authenticated with `ADMIN_TOKEN`.
    AdminToken,
    /// The command line, with the account of the real uid that ran it.
    Cli { os_user: String },
    /// An OAuth client authenticated with its own credentials (revoking one of its tokens, the
    /// first use of a rotated secret).
    Client { client_id: String },
    /// The server itself (e.g. the first signing key created at start).
    System,
}

impl Actor {
    /// The stored `(actor_type, actor_id, actor_label)`.
    fn columns(&self) -> (&'static str, &str, &str) {
        match self {
            Actor::Operator { id, email } => ("operator", id, email),
            Actor::AdminToken => ("admin_token", "admin-token", ""),
            Actor::Cli { os_user } => ("cli", os_user, ""),
            Actor::Client { client_id } => ("client", client_id, ""),
            Actor::System => ("system", "system", ""),
        }
    }
}

/// The chain's MAC key, derived from one KEK (see the module notes). `Debug` never shows it.
#[derive(Clone)]
pub struct AuditKey {
    key: Arc<[u8; 32]>,
    kek_id: Arc<str>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey(from KEK {})", self.kek_id)
    }
}

impl PartialEq for AuditKey {
    fn eq(&self, other: &AuditKey) -> bool {
        shared::secret::ct_eq(&self.key[..], &other.key[..])
    }
}

impl Eq for AuditKey {}

impl AuditKey {
    pub fn from_kek(kek: &Kek) -> AuditKey {
        AuditKey {
            key: Arc::new(kek.derive_key(MAC_KEY_INFO)),
            kek_id: kek.id().into(),
        }
    }

    /// The id of the KEK this key was derived from (a digest, not the KEK).
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// `hex(HMAC-SHA256(K, prev_hash ‖ canonical(row)))`.
    pub fn mac(&self, prev_hash: &str, row: &AuditEventRow) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("invariant: HMAC-SHA256 takes a key of any length");
        mac.update(prev_hash.as_bytes());
        mac.update(canonical(row).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn made(&self, row: &AuditEventRow) -> bool {
        shared::secret::ct_eq(
            self.mac(&row.prev_hash, row).as_bytes(),
            row.hash.as_bytes(),
        )
    }
}

/// The keys this process holds: `current` writes; `current` and, during a KEK rotation,
/// `previous` verify.
#[derive(Debug, Clone)]
pub struct AuditKeys {
    pub current: AuditKey,
    pub previous: Option<AuditKey>,
}

/// Which key of the ring made an event's MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MadeBy {
    Current,
    Previous,
}

impl AuditKeys {
    /// The ring of `SIGNING_KEY_ENCRYPTION_KEY` and `SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS`.
    pub fn new(current: &Kek, previous: Option<&Kek>) -> AuditKeys {
        let current = AuditKey::from_kek(current);
        let previous = previous.map(AuditKey::from_kek).filter(|p| *p != current);
        AuditKeys { current, previous }
    }

    fn made_by(&self, row: &AuditEventRow) -> Option<MadeBy> {
        if self.current.made(row) {
            Some(MadeBy::Current)
        } else if self.previous.as_ref().is_some_and(|p| p.made(row)) {
            Some(MadeBy::Previous)
        } else {
            None
        }
    }
}

/// Who did it, from where, and the key their events are chained with: built once per request
/// (or CLI run) and passed to every service function that changes a credential or an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: Actor,
    /// The request's source address; `None` for the CLI and the server itself.
    pub source: Option<String>,
    /// The current audit key (from `SIGNING_KEY_ENCRYPTION_KEY`).
    pub key: AuditKey,
}

impl AuditContext {
    pub fn new(key: &AuditKey, actor: Actor, source: Option<String>) -> Self {
        AuditContext {
            actor,
            source,
            key: key.clone(),
        }
    }

    pub fn admin_token(key: &AuditKey, source: Option<String>) -> Self {
        Self::new(key, Actor::AdminToken, source)
    }

    pub fn operator(
        key: &AuditKey,
        id: impl Into<String>,
        email: impl Into<String>,
        source: Option<String>,
    ) -> Self {
        let actor = Actor::Operator {
            id: id.into(),
            email: email.into(),
        };
        Self::new(key, actor, source)
    }

    pub fn client(key: &AuditKey, client_id: impl Into<String>, source: Option<String>) -> Self {
        let actor = Actor::Client {
            client_id: client_id.into(),
        };
        Self::new(key, actor, source)
    }

    /// The command line, as the account of the process's real uid ([`os_account`]); never
    /// `$USER`, which whoever runs the command sets.
    pub fn cli(key: &AuditKey) -> Self {
        let actor = Actor::Cli {
            os_user: os_account(),
        };
        Self::new(key, actor, None)
    }

    pub fn system(key: &AuditKey) -> Self {
        Self::new(key, Actor::System, None)
    }
}

/// The account name of the real uid (its passwd entry, as `id -un` of the invoking user would
/// print), or `uid:<n>` when the uid has none (e.g. a container's arbitrary uid).
pub fn os_account() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid:{uid}"),
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
/// signing `kid`, an operator id, a token's `jti`); `fields` the changed fields — never a
/// secret.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: &'static str,
    pub target: String,
    pub outcome: Outcome,
    pub fields: serde_json::Value,
}

/// The OpenAPI `AuditOutcome` component: the strings [`Outcome::as_str`] writes.
impl utoipa::PartialSchema for Outcome {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(
                [Outcome::Success, Outcome::Denied, Outcome::Failed].map(Outcome::as_str),
            ))
            .into()
    }
}

impl utoipa::ToSchema for Outcome {
    fn name() -> std::borrow::Cow<'static, str> {
        "AuditOutcome".into()
    }
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

/// `hex(SHA-256(prev_hash ‖ canonical))`: the unkeyed link of events written before the chain
/// was keyed (checked only before the anchor, see the module notes).
pub fn legacy_hash(prev_hash: &str, row: &AuditEventRow) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical(row).as_bytes());
    hex::encode(h.finalize())
}

/// Where a change is recorded besides the trail.
#[derive(Debug, Clone, Copy)]
pub enum Feed<'a> {
    /// A credential the resource API follows: also appended to the credential change feed
    /// (`shared::changes`) with this kind and subject.
    Credential(ChangeKind, &'a str),
    /// Nothing outside the auth server decides on it (operators, sessions, a secret's stored
    /// form, a re-sealed key): the trail only.
    TrailOnly,
}

/// The one way a writer records a change: the audit event and, for a credential, its
/// change-feed entry, both inside the caller's transaction (after the change's own statements),
/// so they commit with the change or not at all.
pub fn change(
    c: &mut DbConnection,
    ctx: &AuditContext,
    feed: Feed<'_>,
    event: &AuditEvent,
    now: i64,
) -> QueryResult<()> {
    append(c, ctx, event, now)?;
    if let Feed::Credential(kind, subject) = feed {
        changes::record(c, kind, subject, now)?;
    }
    Ok(())
}

/// Appends `event`, chained under `ctx.key`, inside the caller's transaction.
fn append(
    c: &mut DbConnection,
    ctx: &AuditContext,
    event: &AuditEvent,
    now: i64,
) -> QueryResult<()> {
    shared::changes::lock_writers(c)?;
    let (seq, prev_hash) = match AuditEventRow::newest(c)? {
        Some(newest) => (newest.seq + 1, newest.hash),
        None => (1, GENESIS.to_owned()),
    };
    let (actor_type, actor_id, actor_label) = ctx.actor.columns();
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
    row.hash = ctx.key.mac(&row.prev_hash, &row);
    AuditEventRow::insert(c, &row)?;
    Ok(())
}

// --- refused attempts ---------------------------------------------------------------------------

/// How many distinct (action, actor, source, target) keys an [`AuditAggregator`] holds between
/// flushes; more are counted under one catch-all key per action and operation.
pub const REFUSAL_KEYS: usize = 10_000;
/// Sources and targets are cut to this many characters (they are ids and addresses; a longer
/// one is not one).
const MAX_KEY_TEXT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RefusalKey {
    action: &'static str,
    operation: Option<&'static str>,
    actor: Actor,
    source: Option<String>,
    target: String,
    /// The catch-all key of attempts past the capacity (their actor, source and target are
    /// not kept).
    overflow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    count: u64,
    first_at: i64,
    last_at: i64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.count += other.count;
        self.first_at = self.first_at.min(other.first_at);
        self.last_at = self.last_at.max(other.last_at);
    }
}

/// Refused attempts, counted in memory and written as one `denied` event per key and window
/// (the time between two [`flush`](AuditAggregator::flush)es: every [`REFUSAL_WINDOW`] and at
/// shutdown), so a flood of wrong sign-ins or refused console actions costs the trail one row
/// per source and target, not one per attempt. Each event's fields are `{"count", "first_at",
/// "last_at"}` (plus `"operation"` for console refusals, `"overflow": true` for the catch-all).
/// Memory is bounded: at most [`REFUSAL_KEYS`] keys, past which attempts are counted under one
/// catch-all key per action (and operation), so none is silently lost.
pub struct AuditAggregator {
    key: AuditKey,
    capacity: usize,
    pending: Mutex<HashMap<RefusalKey, Tally>>,
}

/// How often refused attempts are written (one event per key per window).
pub const REFUSAL_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

impl AuditAggregator {
    /// Events are chained under `key`; `capacity` distinct keys at most (see the type's notes).
    pub fn new(key: AuditKey, capacity: usize) -> Self {
        AuditAggregator {
            key,
            capacity,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one refused attempt by `source` on `target` (an operator id, a client id, or ""
    /// when the attempt named nothing that exists); never pass text the client chose freely.
    pub fn note(&self, action: &'static str, source: &str, target: &str) {
        self.note_at(
            action,
            None,
            Actor::System,
            source,
            target,
            shared::time::now_micros(),
        );
    }

    /// Counts one console action the policy refused to `ctx`'s operator: `operation` is the
    /// attempted operation from the console's fixed vocabulary (`application.delete`,
    /// `api_key.create`, …), `target` the id it named ("" for a create).
    pub fn note_console(&self, ctx: &AuditContext, operation: &'static str, target: &str) {
        let source = ctx.source.as_deref().unwrap_or("");
        self.note_at(
            CONSOLE_REFUSED,
            Some(operation),
            ctx.actor.clone(),
            source,
            target,
            shared::time::now_micros(),
        );
    }

    fn note_at(
        &self,
        action: &'static str,
        operation: Option<&'static str>,
        actor: Actor,
        source: &str,
        target: &str,
        now: i64,
    ) {
        let cut = |s: &str| s.chars().take(MAX_KEY_TEXT).collect::<String>();
        let key = RefusalKey {
            action,
            operation,
            actor,
            source: (!source.is_empty()).then(|| cut(source)),
            target: cut(target),
            overflow: false,
        };
        let one = Tally {
            count: 1,
            first_at: now,
            last_at: now,
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Self::add(&mut pending, self.capacity, key, one);
    }

    fn add(pending: &mut HashMap<RefusalKey, Tally>, capacity: usize, key: RefusalKey, t: Tally) {
        if let Some(tally) = pending.get_mut(&key) {
            tally.merge(t);
            return;
        }
        let key = if pending.len() < capacity || key.overflow {
            key
        } else {
            RefusalKey {
                action: key.action,
                operation: key.operation,
                actor: Actor::System,
                source: None,
                target: String::new(),
                overflow: true,
            }
        };
        pending
            .entry(key)
            .and_modify(|tally| tally.merge(t))
            .or_insert(t);
    }

    /// Attempts counted and not yet written.
    pub fn pending(&self) -> u64 {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.values().map(|t| t.count).sum()
    }

    /// Writes one event per key in one transaction and empties the counts; returns how many
    /// events were written. Blocking (runs on the blocking pool from `shared::skeleton::every`
    /// and at shutdown). On failure the counts are kept for the next flush.
    pub fn flush(&self, db: &Db, now: i64) -> std::result::Result<usize, DbError> {
        let taken: Vec<(RefusalKey, Tally)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *pending).into_iter().collect()
        };
        if taken.is_empty() {
            return Ok(0);
        }
        let mut events: Vec<(i64, AuditContext, AuditEvent)> = taken
            .iter()
            .map(|(k, t)| {
                let mut fields = serde_json::json!({
                    "count": t.count,
                    "first_at": shared::time::rfc3339(t.first_at),
                    "last_at": shared::time::rfc3339(t.last_at),
                });
                if let Some(operation) = k.operation {
                    fields["operation"] = operation.into();
                }
                if k.overflow {
                    fields["overflow"] = true.into();
                }
                let ctx = AuditContext::new(&self.key, k.actor.clone(), k.source.clone());
                let event = AuditEvent::denied(k.action, k.target.clone(), fields);
                (t.first_at, ctx, event)
            })
            .collect();
        // Oldest first, so that the trail reads in the order the attempts began.
        events.sort_by_key(|(first_at, _, _)| *first_at);
        let n = events.len();
        let result = db.run_blocking(move |c| {
            c.transaction(|c| {
                for (_, ctx, event) in &events {
                    change(c, ctx, Feed::TrailOnly, event, now)?;
                }
                Ok(())
            })
        });
        match result {
            Ok(()) => Ok(n),
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for (k, t) in taken {
                    Self::add(&mut pending, self.capacity, k, t);
                }
                Err(e)
            }
        }
    }
}

// --- reading -------------------------------------------------------------------------------------

/// One event as the admin API, the console and the export show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// `operator`, `admin_token`, `cli`, `client` or `system`.
    pub actor_type: String,
    /// Operator id, `admin-token`, the OS account of a CLI run, a client id, or `system`.
    pub actor_id: String,
    /// The operator's email at the time; empty for other actors.
    pub actor_label: String,
    /// `<object>.<verb>`, e.g. `api_key.create`.
    pub action: String,
    pub target: String,
    #[schema(required = true)]
    pub source: Option<String>,
    /// `success`, `denied` or `failed`.
    #[schema(value_type = Outcome)]
    pub outcome: String,
    /// The changed fields; never a secret.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    /// The previous event's `hash`.
    pub prev_hash: String,
    /// HMAC-SHA256 under the audit key of `prev_hash` and the event (plain SHA-256 for events
    /// written before the chain was keyed).
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
            // Stored by `append` from a `serde_json::Value`; a row edited into invalid JSON
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
        .run(move |c| AuditEventRow::list_back(c, &filter, before_seq, limit))
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
        .run(move |c| AuditEventRow::list_forward(c, &filter, after_seq, limit))
        .await?;
    Ok(rows.into_iter().map(AuditEventView::from_row).collect())
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

// --- verifying -----------------------------------------------------------------------------------

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events read (up to the first break).
    pub events: i64,
    /// The newest event's hash ([`GENESIS`] for an empty trail): keep it (and `events`)
    /// elsewhere to detect a truncation later.
    pub head: String,
    /// The first event that does not fit the chain, and why.
    pub broken: Option<(i64, String)>,
    /// Events with plain SHA-256 links, written before the chain was keyed (all before the
    /// anchor event).
    pub legacy_events: i64,
    /// Events whose MAC is under the previous KEK's key (re-keyed at the next start with both
    /// KEKs).
    pub previous_key_events: i64,
    /// The first of those.
    pub first_previous_key_event: Option<i64>,
    /// The `seq` of the event whose hash is the expected head passed to [`verify`], if one is.
    pub expected_head_at: Option<i64>,
}

impl ChainReport {
    /// Compares an intact chain with a head and a count kept elsewhere (what an earlier
    /// `verify` printed). The trail may have grown since: `head` must be the hash of one of its
    /// events — of event `count` when both are given — and it must hold at least `count`
    /// events. `Err` is one line saying what is missing: a truncated tail, or every event gone.
    pub fn check_expected(
        &self,
        head: Option<&str>,
        count: Option<i64>,
    ) -> std::result::Result<(), String> {
        if let Some(count) = count {
            if self.events < count {
                return Err(format!(
                    "audit trail truncated: {} events, expected at least {count} (events were deleted from its end)",
                    self.events
                ));
            }
        }
        if let Some(head) = head {
            match (self.expected_head_at, count) {
                (None, _) => {
                    return Err(format!(
                        "audit trail truncated or rewritten: no event has the expected head {head} ({} events, head {})",
                        self.events, self.head
                    ))
                }
                (Some(at), Some(count)) if at != count => {
                    return Err(format!(
                        "audit trail rewritten: the expected head {head} is event {at}, expected event {count}"
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Rows before `legacy_until` have plain links; the rest must be keyed under `keys`.
fn scan(
    c: &mut DbConnection,
    keys: &AuditKeys,
    legacy_until: i64,
    expected_head: Option<&str>,
) -> QueryResult<ChainReport> {
    const BATCH: i64 = 1_000;
    let mut report = ChainReport {
        events: 0,
        head: GENESIS.to_owned(),
        broken: None,
        legacy_events: 0,
        previous_key_events: 0,
        first_previous_key_event: None,
        expected_head_at: None,
    };
    let mut expected_seq = 1;
    loop {
        let rows = AuditEventRow::batch(c, expected_seq, BATCH)?;
        let done = (rows.len() as i64) < BATCH;
        for row in rows {
            let legacy = row.seq < legacy_until;
            let problem = if row.seq != expected_seq {
                Some(format!("event {expected_seq} is missing"))
            } else if row.prev_hash != report.head {
                Some("prev_hash is not the previous event's hash".to_owned())
            } else if legacy {
                (legacy_hash(&row.prev_hash, &row) != row.hash).then(|| {
                    "its contents do not match its hash (a plain SHA-256 link from before the chain was keyed)".to_owned()
                })
            } else {
                match keys.made_by(&row) {
                    Some(MadeBy::Current) => None,
                    Some(MadeBy::Previous) => {
                        report.previous_key_events += 1;
                        report.first_previous_key_event.get_or_insert(row.seq);
                        None
                    }
                    None if legacy_until <= 1
                        && row.seq == 1
                        && legacy_hash(&row.prev_hash, &row) == row.hash =>
                    {
                        Some("it has a plain SHA-256 link and no keyed anchor follows: a trail from before the chain was keyed that no process of this version has prepared yet (start `auth-server serve` once), or a trail rewritten without the key".to_owned())
                    }
                    None => Some(
                        "its contents do not match its MAC under SIGNING_KEY_ENCRYPTION_KEY (an edit, or an event written under a key-encryption key this process was not given: set SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS during a rotation)".to_owned(),
                    ),
                }
            };
            if let Some(why) = problem {
                report.broken = Some((expected_seq, why));
                return Ok(report);
            }
            if legacy {
                report.legacy_events += 1;
            }
            if expected_head
                .is_some_and(|h| shared::secret::ct_eq(h.as_bytes(), row.hash.as_bytes()))
            {
                report.expected_head_at = Some(row.seq);
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

/// Reads the whole trail in order, in batches, and checks the numbering, each link and each
/// MAC (under either key of `keys`; plain hashes only before the anchor). Stops at the first
/// break. `expected_head`: note where an event with this hash is
/// ([`ChainReport::expected_head_at`]).
pub fn verify(
    c: &mut DbConnection,
    keys: &AuditKeys,
    expected_head: Option<&str>,
) -> QueryResult<ChainReport> {
    let anchor = AuditEventRow::first_with_action(c, ANCHOR_ACTION)?;
    scan(c, keys, anchor.unwrap_or(1), expected_head)
}

// --- keying --------------------------------------------------------------------------------------

/// What [`prepare`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keying {
    /// Nothing to do: the trail is empty, or keyed under the current key as far as this
    /// process can tell (without a previous KEK only the newest event is checked).
    Current,
    /// A trail from before keyed chains: its plain events were anchored by an
    /// [`ANCHOR_ACTION`] event. `legacy_break`: where the plain chain was already broken.
    Anchored {
        legacy_events: i64,
        legacy_break: Option<(i64, String)>,
    },
    /// After a KEK rotation: `events` MACs recomputed under the current key.
    Rekeyed { events: i64 },
    /// Left as it is: the chain does not verify at `at` (re-keying would launder the break).
    Refused { at: i64, why: String },
}

/// Brings the chain under the current key, inside the caller's transaction (under the writer
/// lock): anchors a trail from before keyed chains, and — with a previous KEK in `keys` —
/// verifies the whole chain under both keys and recomputes, under the current key, every MAC
/// from the first one made under the previous key on. See the module notes.
pub fn prepare(c: &mut DbConnection, keys: &AuditKeys, now: i64) -> QueryResult<Keying> {
    shared::changes::lock_writers(c)?;
    let Some(oldest) = AuditEventRow::oldest(c)? else {
        return Ok(Keying::Current);
    };
    // A trail from before keyed chains starts with a plain link. (One keyed under a KEK this
    // process does not hold, e.g. a replica still on the old KEK after a rotation, does not,
    // and is left alone.)
    let anchor = AuditEventRow::first_with_action(c, ANCHOR_ACTION)?;
    if anchor.is_none() && legacy_hash(&oldest.prev_hash, &oldest) == oldest.hash {
        return anchor_legacy(c, keys, now);
    }
    if keys.previous.is_none() {
        return Ok(Keying::Current);
    }
    let report = verify(c, keys, None)?;
    if let Some((at, why)) = report.broken {
        return Ok(Keying::Refused { at, why });
    }
    let Some(first) = report.first_previous_key_event else {
        return Ok(Keying::Current);
    };
    let events = rekey_from(c, &keys.current, first)?;
    let event = AuditEvent::success(
        REKEY_ACTION,
        "",
        serde_json::json!({"events": events, "from_seq": first, "kek_id": keys.current.kek_id()}),
    );
    append(c, &AuditContext::system(&keys.current), &event, now)?;
    Ok(Keying::Rekeyed { events })
}

/// Checks the plain chain of a trail from before keyed chains and appends the keyed anchor.
fn anchor_legacy(c: &mut DbConnection, keys: &AuditKeys, now: i64) -> QueryResult<Keying> {
    let plain = scan(c, keys, i64::MAX, None)?;
    let newest = AuditEventRow::newest(c)?;
    let (legacy_events, legacy_head) = newest.map_or((0, GENESIS.to_owned()), |r| (r.seq, r.hash));
    let chain = match &plain.broken {
        None => "intact".to_owned(),
        Some((at, why)) => format!("broken at event {at}: {why}"),
    };
    let event = AuditEvent::success(
        ANCHOR_ACTION,
        "",
        serde_json::json!({"legacy_events": legacy_events, "legacy_head": legacy_head,
                           "legacy_chain": chain}),
    );
    append(c, &AuditContext::system(&keys.current), &event, now)?;
    Ok(Keying::Anchored {
        legacy_events,
        legacy_break: plain.broken,
    })
}

/// Recomputes the MAC of every event from `first` on under `key`; returns how many.
fn rekey_from(c: &mut DbConnection, key: &AuditKey, first: i64) -> QueryResult<i64> {
    const BATCH: i64 = 1_000;
    let Some(start) = AuditEventRow::find(c, first)? else {
        return Ok(0);
    };
    // The link into `first` is kept: the event before it is already under the current key (or
    // plain, before the anchor).
    let mut prev = start.prev_hash;
    let mut next = first;
    let mut n = 0;
    loop {
        let rows = AuditEventRow::batch(c, next, BATCH)?;
        let done = (rows.len() as i64) < BATCH;
        for row in rows {
            let hash = key.mac(&prev, &row);
            AuditEventRow::set_links(c, row.seq, &prev, &hash)?;
            prev = hash;
            next = row.seq + 1;
            n += 1;
        }
        if done {
            return Ok(n);
        }
    }
}

/// [`prepare`] in a transaction of its own, logging what it did. Blocking: run at start (beside
/// the signing keys' re-seal) and before a CLI command writes.
pub fn prepare_chain(db: &Db, keys: &AuditKeys, now: i64) -> std::result::Result<Keying, DbError> {
    let keys2 = keys.clone();
    let keying = db.run_blocking(move |c| c.transaction(|c| prepare(c, &keys2, now)))?;
    match &keying {
        Keying::Current => {}
        Keying::Anchored {
            legacy_events,
            legacy_break: None,
        } => tracing::info!(
            "audit trail keyed: {legacy_events} earlier events (plain SHA-256, intact) anchored under KEK {}",
            keys.current.kek_id()
        ),
        Keying::Anchored {
            legacy_events,
            legacy_break: Some((at, why)),
        } => tracing::error!(
            "audit trail keyed: {legacy_events} earlier events anchored, but their plain chain was already broken at event {at}: {why}"
        ),
        Keying::Rekeyed { events } => tracing::info!(
            "audit trail re-keyed: {events} events now under KEK {}",
            keys.current.kek_id()
        ),
        Keying::Refused { at, why } => tracing::error!(
            "audit trail not re-keyed: its chain is broken at event {at} ({why}); run `auth-server audit verify`"
        ),
    }
    Ok(keying)
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

    fn key(byte: u8) -> AuditKey {
        AuditKey::from_kek(&Kek::from_bytes([byte; 32]))
    }

    #[test]
    fn every_hashed_column_changes_the_hash() {
        let k = key(1);
        let base = k.mac(GENESIS, &row());
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
            assert_ne!(k.mac(GENESIS, &r), base);
            assert_ne!(legacy_hash(GENESIS, &r), legacy_hash(GENESIS, &row()));
        }
        assert_ne!(k.mac(&"1".repeat(64), &row()), base);
    }

    #[test]
    fn the_mac_needs_the_key_and_is_not_the_plain_hash() {
        let r = row();
        assert_ne!(key(1).mac(GENESIS, &r), key(2).mac(GENESIS, &r));
        assert_ne!(key(1).mac(GENESIS, &r), legacy_hash(GENESIS, &r));
        assert_eq!(key(1).mac(GENESIS, &r), key(1).mac(GENESIS, &r));
        // Derived with the fixed label, not the KEK itself.
        let kek = Kek::from_bytes([1; 32]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&kek.derive_key(MAC_KEY_INFO)).unwrap();
        mac.update(GENESIS.as_bytes());
        mac.update(canonical(&r).as_bytes());
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            key(1).mac(GENESIS, &r)
        );
        assert!(!format!("{:?}", key(1)).contains(&hex::encode(kek.derive_key(MAC_KEY_INFO))));
    }

    #[test]
    fn a_ring_names_the_key_that_made_a_mac() {
        let keys = AuditKeys::new(&Kek::from_bytes([2; 32]), Some(&Kek::from_bytes([1; 32])));
        let mut r = row();
        r.hash = key(1).mac(GENESIS, &r);
        assert_eq!(keys.made_by(&r), Some(MadeBy::Previous));
        r.hash = key(2).mac(GENESIS, &r);
        assert_eq!(keys.made_by(&r), Some(MadeBy::Current));
        r.hash = legacy_hash(GENESIS, &r);
        assert_eq!(keys.made_by(&r), None);
        // The same KEK twice is one key.
        let same = AuditKeys::new(&Kek::from_bytes([2; 32]), Some(&Kek::from_bytes([2; 32])));
        assert!(same.previous.is_none());
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

    #[test]
    fn refusals_are_counted_per_key_and_bounded_with_a_catch_all() {
        let agg = AuditAggregator::new(key(1), 2);
        for t in 0..5 {
            agg.note_at(
                "session.login",
                None,
                Actor::System,
                "10.0.0.1",
                "op_a",
                10 + t,
            );
        }
        agg.note_at("session.login", None, Actor::System, "10.0.0.2", "op_a", 20);
        // Past the capacity of two keys: counted under the action's catch-all.
        for i in 0..100 {
            agg.note_at(
                "session.login",
                None,
                Actor::System,
                &format!("10.1.0.{i}"),
                "",
                30,
            );
        }
        agg.note_at("session.login", None, Actor::System, "10.0.0.1", "op_a", 40);
        let pending = agg.pending.lock().unwrap().clone();
        assert_eq!(pending.len(), 3);
        let first = RefusalKey {
            action: "session.login",
            operation: None,
            actor: Actor::System,
            source: Some("10.0.0.1".into()),
            target: "op_a".into(),
            overflow: false,
        };
        assert_eq!(
            pending[&first],
            Tally {
                count: 6,
                first_at: 10,
                last_at: 40
            }
        );
        let overflow = pending.iter().find(|(k, _)| k.overflow).unwrap();
        assert_eq!(overflow.1.count, 100);
        assert_eq!(overflow.0.source, None);
        assert_eq!(agg.pending(), 107);
        // Text longer than an id or an address is cut.
        let agg = AuditAggregator::new(key(1), 10);
        agg.note("session.login", &"x".repeat(5_000), "");
        let pending = agg.pending.lock().unwrap();
        let k = pending.keys().next().unwrap();
        assert_eq!(k.source.as_ref().unwrap().len(), MAX_KEY_TEXT);
    }

    #[test]
    fn expected_head_and_count_detect_a_truncated_tail() {
        let report = |events, at| ChainReport {
            events,
            head: "h".into(),
            broken: None,
            legacy_events: 0,
            previous_key_events: 0,
            first_previous_key_event: None,
            expected_head_at: at,
        };
        assert_eq!(
            report(5, Some(5)).check_expected(Some("x"), Some(5)),
            Ok(())
        );
        // The trail grew since the head was kept.
        assert_eq!(
            report(9, Some(5)).check_expected(Some("x"), Some(5)),
            Ok(())
        );
        assert_eq!(report(9, Some(5)).check_expected(Some("x"), None), Ok(()));
        assert!(report(4, None).check_expected(Some("x"), Some(5)).is_err());
        assert!(report(0, None).check_expected(None, Some(5)).is_err());
        assert!(report(9, None).check_expected(Some("x"), None).is_err());
        assert!(report(9, Some(3))
            .check_expected(Some("x"), Some(5))
            .is_err());
    }
}
