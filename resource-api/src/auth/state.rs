//! What the resource API knows about credentials, and how a change reaches it.
//!
//! Held in memory: application status, environment, current scopes, tier and
//! `tokens_not_before` (bounded by the number of applications), revoked token ids of tokens
//! not yet expired, and the signing keys no longer published. API keys are **not** all held:
//! a key is read by digest on its first use (one indexed query) and kept in a bounded cache
//! ([`KEY_CACHE_CAPACITY`] entries, least-recently-used out, [`KEY_TTL`] at most); unknown
//! digests are remembered in a bounded negative cache for [`NEGATIVE_TTL`]. Memory and start
//! time therefore do not grow with the number of keys in the database.
//!
//! Changes arrive through the credential change feed (`shared::changes`): a database-numbered
//! cursor (never a writer's clock) is advanced by [`CredentialState::refresh`], which reads the
//! changes after it and reloads exactly what they name — applications by client id, keys by
//! digest (cached ones reloaded, unknown ones forgotten), revoked `jti`s — plus the unpublished
//! signing keys. On PostgreSQL a `NOTIFY` from the writer's transaction wakes the refresh at
//! once; the poll (`CREDENTIAL_POLL_SECS`) is the backstop, and the only path on SQLite. A gap
//! in the feed (pruned while this replica was away), a (re)connected LISTEN and the start
//! [`Refresh::Reset`] everything; every minute applications and revocations are reloaded in full
//! ([`Refresh::Full`]) and cached keys age out after [`KEY_TTL`], so even a writer that bypassed
//! the feed is caught within a minute.
//!
//! `last_used_at` of API keys is collected here and written in one batch per flush interval
//! (uses of keys evicted from the cache meanwhile included).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use moka::sync::Cache;
use shared::changes::{self, ChangeKind};
use shared::claims::RETIRED_KEY_PUBLISHED_SECS;
use shared::db::{Db, DbError};
use shared::{Environment, ScopeSet, Tier};

use crate::db::credentials::{self, ApiKeyRecordRow, AppStatusRow};

/// API keys kept in memory at most (least recently used out first).
pub const KEY_CACHE_CAPACITY: u64 = 10_000;
/// A cached key is read again after this long even without news (the backstop for a writer
/// that bypassed the change feed).
pub const KEY_TTL: Duration = Duration::from_secs(60);
/// Unknown digests are remembered this long, so a flood of made-up keys costs one lookup each.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(5);
const MAX_NEGATIVE: u64 = 50_000;
/// Changes read per query of the feed.
const CHANGES_PER_READ: i64 = 1_000;
/// Key changes remembered for lookups in flight.
const KEY_CHANGES_KEPT: usize = 4_096;
/// Uses of evicted keys kept for the next flush at most.
const MAX_EVICTED_USES: usize = 100_000;

/// What a token is checked against: its application as the database has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStatus {
    pub active: bool,
    pub tier: Tier,
    pub environment: Option<Environment>,
    pub scopes: ScopeSet,
    /// Tokens issued before this instant (Unix microseconds) are refused.
    pub tokens_not_before: Option<i64>,
}

/// An API key as the resource API needs it (and as `/v2/api_keys/validate` shows it).
#[derive(Debug)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub environment: Environment,
    pub scopes: ScopeSet,
    pub tier: Tier,
    pub masked_token: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    /// Last use not yet written to the database (0: none). An atomic, so that recording a use
    /// costs no lock and no allocation on the request path.
    pending_use: AtomicI64,
}

impl KeyRecord {
    fn from_row(row: &ApiKeyRecordRow) -> Option<Self> {
        Some(KeyRecord {
            id: row.id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            environment: row.environment.parse().ok()?,
            scopes: ScopeSet::parse_delimited(&row.scopes).ok()?,
            tier: row.tier.parse().ok()?,
            masked_token: row.masked_token.clone(),
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            created_at: row.created_at,
            pending_use: AtomicI64::new(0),
        })
    }

    /// The last use as far as this process knows: the stored value or a newer use not yet
    /// written.
    pub fn last_used(&self) -> Option<i64> {
        let pending = self.pending_use.load(Ordering::Relaxed);
        match (self.last_used_at, pending > 0) {
            (Some(stored), true) => Some(stored.max(pending)),
            (None, true) => Some(pending),
            (stored, false) => stored,
        }
    }

    /// Notes a use at `now`; written by the next flush.
    pub fn record_use(&self, now: i64) {
        self.pending_use.fetch_max(now, Ordering::Relaxed);
    }

    /// Usable at `now`: not revoked, not expired.
    pub fn usable(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

fn app_status(row: &AppStatusRow) -> Arc<AppStatus> {
    // A row that does not parse grants nothing: no environment matches and no scope is left.
    Arc::new(AppStatus {
        active: !row.disabled && row.deleted_at.is_none(),
        tier: row.tier.parse().unwrap_or_default(),
        environment: row.environment.parse().ok(),
        scopes: ScopeSet::parse_delimited(&row.scopes).unwrap_or_default(),
        tokens_not_before: row.tokens_not_before,
    })
}

/// A revoked token id as a compact map key: token ids this issuer mints are 32 hex digits
/// (128 bits); anything else is reduced to 128 bits of its SHA-256.
pub fn jti_key(jti: &str) -> u128 {
    if jti.len() == 32 {
        if let Ok(n) = u128::from_str_radix(jti, 16) {
            return n;
        }
    }
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(jti.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_be_bytes(b)
}

/// Whether a lookup that misses memory may go to the database (a source address that keeps
/// sending unknown credentials is held to what memory can answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    MayQuery,
    MemoryOnly,
}

/// A lookup that memory could not answer and the database was not asked.
#[derive(Debug)]
pub enum LookupError {
    Db(DbError),
    NotInMemory,
}

/// How much [`CredentialState::refresh`] reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// The changes after the cursor.
    Changes,
    /// The changes, then applications and revocations in full (expired revocations dropped).
    Full,
    /// Everything from scratch: the cursor from the feed's newest change, every cached key
    /// read again, the negative cache emptied. At start, after a gap in the feed, after the
    /// LISTEN connection reconnected.
    Reset,
}

pub struct CredentialState {
    apps: RwLock<HashMap<String, Arc<AppStatus>>>,
    keys: Cache<String, Arc<KeyRecord>>,
    unknown_keys: Cache<String, ()>,
    /// Bumped before every change applied to `apps` / `keys`: a lookup that read the database
    /// before a change was applied does not cache what it read.
    apps_generation: AtomicU64,
    keys_generation: AtomicU64,
    /// The last key changes applied, as (generation, digest; `None`: every key), so that a
    /// lookup can tell whether a change to *its* key was applied while it read the database.
    key_changes: Mutex<std::collections::VecDeque<(u64, Option<String>)>>,
    /// Uses of keys evicted from the cache before they were flushed.
    evicted_uses: Arc<Mutex<Vec<(String, i64)>>>,
    /// Revoked token ids (see [`jti_key`]) → the token's `exp`; dropped after it at each full
    /// reload.
    revoked: RwLock<HashMap<u128, i64>>,
    /// Signing keys retired so long ago, or revoked, that no token they signed is honoured.
    unpublished_kids: RwLock<HashSet<String>>,
    /// The id of the last change applied; held while refreshing, so refreshes never overlap.
    cursor: Mutex<Option<i64>>,
    /// A reset is due (the LISTEN connection came back, or a reset failed).
    reset_due: AtomicBool,
    /// Wakes the refresh loop (a notification, or a reset asked for).
    pub wake: Arc<tokio::sync::Notify>,
}

impl Default for CredentialState {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialState {
    pub fn new() -> Self {
        let evicted_uses: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
        let sink = evicted_uses.clone();
        let keys = Cache::builder()
            .max_capacity(KEY_CACHE_CAPACITY)
            .time_to_live(KEY_TTL)
            .eviction_listener(move |_digest, record: Arc<KeyRecord>, _cause| {
                let at = record.pending_use.swap(0, Ordering::Relaxed);
                if at > 0 {
                    let mut uses = sink.lock().unwrap_or_else(|p| p.into_inner());
                    if uses.len() < MAX_EVICTED_USES {
                        uses.push((record.id.clone(), at));
                    }
                }
            })
            .build();
        CredentialState {
            apps: RwLock::default(),
            keys,
            unknown_keys: Cache::builder()
                .max_capacity(MAX_NEGATIVE)
                .time_to_live(NEGATIVE_TTL)
                .build(),
            apps_generation: AtomicU64::new(0),
            keys_generation: AtomicU64::new(0),
            key_changes: Mutex::default(),
            evicted_uses,
            revoked: RwLock::default(),
            unpublished_kids: RwLock::default(),
            cursor: Mutex::new(None),
            reset_due: AtomicBool::new(false),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Asks the refresh loop for a [`Refresh::Reset`] (the LISTEN connection is (back) up).
    pub fn request_reset(&self) {
        self.reset_due.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Whether a reset is due; clears the flag (set it again with [`Self::request_reset`] when
    /// the reset fails).
    pub fn take_reset_due(&self) -> bool {
        self.reset_due.swap(false, Ordering::SeqCst)
    }

    /// The id of the last change applied (`None` before the first reset).
    pub fn cursor(&self) -> Option<i64> {
        *self.cursor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// API keys held in memory now (for tests and metrics).
    pub fn cached_keys(&self) -> u64 {
        self.keys.run_pending_tasks();
        self.keys.entry_count()
    }

    /// Brings the state up to the database. Blocking: run it on the blocking pool.
    pub fn refresh(&self, db: &Db, now: i64, mode: Refresh) -> Result<(), DbError> {
        let mut cursor = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
        let mut mode = mode;
        if let (Some(at), Refresh::Changes | Refresh::Full) = (*cursor, mode) {
            // Apply the changes in order until the feed is exhausted; a gap means this replica
            // fell behind the pruning and must reset.
            let mut at = at;
            loop {
                let batch = db.run_blocking(move |c| changes::since(c, at, CHANGES_PER_READ))?;
                let Some(first) = batch.first() else { break };
                if first.id != at + 1 || batch.iter().any(|c| c.kind().is_none()) {
                    mode = Refresh::Reset;
                    break;
                }
                self.apply(db, now, &batch)?;
                at = batch.last().map_or(at, |c| c.id);
                *cursor = Some(at);
                if (batch.len() as i64) < CHANGES_PER_READ {
                    break;
                }
            }
        } else {
            mode = Refresh::Reset;
        }
        let unpublished_before = now - RETIRED_KEY_PUBLISHED_SECS * 1_000_000;
        match mode {
            Refresh::Changes => {
                let unpublished =
                    db.run_blocking(move |c| credentials::unpublished_kids(c, unpublished_before))?;
                self.set_unpublished(unpublished);
            }
            Refresh::Full | Refresh::Reset => {
                // The cursor is read first: whatever changes after it is applied again later.
                let (latest, apps, revoked, unpublished) = db.run_blocking(move |c| {
                    Ok((
                        changes::latest(c)?,
                        credentials::all_apps(c)?,
                        credentials::live_revocations(c, now)?,
                        credentials::unpublished_kids(c, unpublished_before)?,
                    ))
                })?;
                self.apps_generation.fetch_add(1, Ordering::SeqCst);
                *self.apps.write().unwrap_or_else(|p| p.into_inner()) = apps
                    .iter()
                    .map(|r| (r.client_id.clone(), app_status(r)))
                    .collect();
                *self.revoked.write().unwrap_or_else(|p| p.into_inner()) = revoked
                    .iter()
                    .map(|r| (jti_key(&r.jti), r.expires_at))
                    .collect();
                self.set_unpublished(unpublished);
                if mode == Refresh::Reset {
                    // Cached keys are read again in place (not dropped: a key in memory keeps
                    // working for a source held to what memory knows, and its pending use stays).
                    self.note_key_change(None);
                    self.unknown_keys.invalidate_all();
                    let cached: Vec<String> =
                        self.keys.iter().map(|(d, _)| d.as_ref().clone()).collect();
                    for chunk in cached.chunks(500) {
                        let digests = chunk.to_vec();
                        let rows =
                            db.run_blocking(move |c| credentials::keys_by_digests(c, &digests))?;
                        self.reload_keys(chunk, &rows);
                    }
                    *cursor = Some(latest);
                }
            }
        }
        Ok(())
    }

    /// Reloads what a batch of changes names.
    fn apply(&self, db: &Db, now: i64, batch: &[changes::Change]) -> Result<(), DbError> {
        let mut app_ids = Vec::new();
        let mut digests = Vec::new();
        let mut jtis = Vec::new();
        for change in batch {
            let list = match change.kind() {
                Some(ChangeKind::App) => &mut app_ids,
                Some(ChangeKind::ApiKey) => &mut digests,
                Some(ChangeKind::Token) => &mut jtis,
                // Unpublished kids are read on every refresh.
                Some(ChangeKind::SigningKey) | None => continue,
            };
            if !list.contains(&change.subject) {
                list.push(change.subject.clone());
            }
        }
        // Keys not in the cache need no reload: their next use reads them.
        let cached: Vec<String> = digests
            .iter()
            .filter(|d| self.keys.contains_key(*d))
            .cloned()
            .collect();
        let (apps, keys, revoked) = {
            let (app_ids, cached, jtis) = (app_ids.clone(), cached.clone(), jtis.clone());
            db.run_blocking(move |c| {
                Ok((
                    if app_ids.is_empty() {
                        Vec::new()
                    } else {
                        credentials::apps_by_ids(c, &app_ids)?
                    },
                    if cached.is_empty() {
                        Vec::new()
                    } else {
                        credentials::keys_by_digests(c, &cached)?
                    },
                    if jtis.is_empty() {
                        Vec::new()
                    } else {
                        credentials::revocations_by_jtis(c, &jtis)?
                    },
                ))
            })?
        };
        if !app_ids.is_empty() {
            self.apps_generation.fetch_add(1, Ordering::SeqCst);
            let mut map = self.apps.write().unwrap_or_else(|p| p.into_inner());
            for id in &app_ids {
                match apps.iter().find(|r| &r.client_id == id) {
                    Some(row) => map.insert(id.clone(), app_status(row)),
                    None => map.remove(id),
                };
            }
        }
        if !digests.is_empty() {
            for digest in &digests {
                self.note_key_change(Some(digest.clone()));
                self.unknown_keys.invalidate(digest);
            }
            self.reload_keys(&cached, &keys);
        }
        if !revoked.is_empty() {
            let mut map = self.revoked.write().unwrap_or_else(|p| p.into_inner());
            for row in revoked.iter().filter(|r| r.expires_at > now) {
                map.insert(jti_key(&row.jti), row.expires_at);
            }
        }
        Ok(())
    }

    /// Records a key change about to be applied (before it is: a lookup that started earlier
    /// then sees it).
    fn note_key_change(&self, digest: Option<String>) {
        let mut changes = self.key_changes.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.keys_generation.fetch_add(1, Ordering::SeqCst) + 1;
        if changes.len() >= KEY_CHANGES_KEPT {
            changes.pop_front();
        }
        changes.push_back((generation, digest));
    }

    /// Whether a change to `digest` (or to every key) was applied after `generation`.
    fn key_changed_since(&self, digest: &str, generation: u64) -> bool {
        if self.keys_generation.load(Ordering::SeqCst) == generation {
            return false;
        }
        let changes = self.key_changes.lock().unwrap_or_else(|p| p.into_inner());
        // Forgotten changes may have been this key's.
        if changes.front().is_none_or(|(g, _)| *g > generation + 1) {
            return true;
        }
        changes
            .iter()
            .any(|(g, d)| *g > generation && d.as_deref().is_none_or(|d| d == digest))
    }

    /// Replaces the cached records of `digests` by `rows` (a digest without a row, or whose
    /// row no longer parses, is dropped).
    fn reload_keys(&self, digests: &[String], rows: &[ApiKeyRecordRow]) {
        for digest in digests {
            let fresh = rows
                .iter()
                .find(|r| &r.key_digest == digest)
                .and_then(KeyRecord::from_row);
            let old = self.keys.get(digest);
            match fresh {
                Some(rec) => {
                    // Carry a use not yet flushed over to the fresh record.
                    if let Some(old) = old {
                        rec.record_use(old.pending_use.swap(0, Ordering::Relaxed));
                    }
                    self.keys.insert(digest.clone(), Arc::new(rec));
                }
                None => self.keys.invalidate(digest),
            }
        }
    }

    fn set_unpublished(&self, unpublished: Vec<String>) {
        let current = self
            .unpublished_kids
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let changed =
            current.len() != unpublished.len() || unpublished.iter().any(|k| !current.contains(k));
        drop(current);
        // Write locks block every request's read lock: take them only when there is news.
        if changed {
            *self
                .unpublished_kids
                .write()
                .unwrap_or_else(|p| p.into_inner()) = unpublished.into_iter().collect();
        }
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&jti_key(jti))
    }

    /// Whether the signing key `kid` has been unpublished (retired past its window, or revoked).
    pub fn kid_unpublished(&self, kid: &str) -> bool {
        self.unpublished_kids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(kid)
    }

    /// The status of an application; a miss (an application created since the last refresh)
    /// is read from the database once, when `lookup` allows it.
    pub async fn app(
        &self,
        db: &Db,
        client_id: &str,
        lookup: Lookup,
    ) -> Result<Option<Arc<AppStatus>>, LookupError> {
        if let Some(s) = self
            .apps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(client_id)
        {
            return Ok(Some(s.clone()));
        }
        if lookup == Lookup::MemoryOnly {
            return Err(LookupError::NotInMemory);
        }
        let generation = self.apps_generation.load(Ordering::SeqCst);
        let id = client_id.to_owned();
        let row = db
            .run(move |c| credentials::app(c, &id))
            .await
            .map_err(LookupError::Db)?;
        Ok(row.map(|r| {
            let status = app_status(&r);
            let mut map = self.apps.write().unwrap_or_else(|p| p.into_inner());
            // A change applied meanwhile may be newer than what was read: do not keep it.
            if self.apps_generation.load(Ordering::SeqCst) == generation {
                map.insert(r.client_id, status.clone());
            }
            status
        }))
    }

    /// The API key with this digest; a miss is read from the database (one indexed query) and
    /// cached, found or not.
    pub async fn key(
        &self,
        db: &Db,
        digest: &str,
        _now: i64,
        lookup: Lookup,
    ) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        if let Some(k) = self.keys.get(digest) {
            return Ok(Some(k));
        }
        if self.unknown_keys.contains_key(digest) {
            return Ok(None);
        }
        if lookup == Lookup::MemoryOnly {
            return Err(LookupError::NotInMemory);
        }
        // A change to this key applied while its row was read may be newer than what was read
        // (its refresh may have run before the insert below): then read it again.
        for _ in 0..3 {
            let generation = self.keys_generation.load(Ordering::SeqCst);
            let d = digest.to_owned();
            let row = db
                .run(move |c| credentials::key_by_digest(c, &d))
                .await
                .map_err(LookupError::Db)?;
            let found = row.as_ref().and_then(KeyRecord::from_row).map(Arc::new);
            match &found {
                Some(rec) => self.keys.insert(digest.to_owned(), rec.clone()),
                None => self.unknown_keys.insert(digest.to_owned(), ()),
            }
            if !self.key_changed_since(digest, generation) {
                return Ok(found);
            }
        }
        self.keys.invalidate(digest);
        self.unknown_keys.invalidate(digest);
        Err(LookupError::Db(DbError::Canceled))
    }

    /// Writes the collected `last_used_at` values in one pass. Blocking.
    pub fn flush_last_used(&self, db: &Db) -> Result<usize, DbError> {
        // Evictions not yet delivered to the listener would be missed by both lists below.
        self.keys.run_pending_tasks();
        let mut pending: Vec<(String, i64)> =
            std::mem::take(&mut *self.evicted_uses.lock().unwrap_or_else(|p| p.into_inner()));
        pending.extend(self.keys.iter().filter_map(|(_, k)| {
            let at = k.pending_use.swap(0, Ordering::Relaxed);
            (at > 0).then(|| (k.id.clone(), at))
        }));
        let n = pending.len();
        if n == 0 {
            return Ok(0);
        }
        db.run_blocking(move |c| {
            use diesel::Connection;
            c.transaction(|c| {
                for (id, at) in &pending {
                    credentials::touch_last_used(c, id, *at)?;
                }
                Ok(())
            })
        })?;
        Ok(n)
    }
}
