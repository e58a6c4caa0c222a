//! What the resource API knows about credentials, kept in memory and refreshed from the
//! database every poll interval (1 s by default): application status, environment, current
//! scopes, tier and `tokens_not_before`, API keys by digest, revoked token ids, and the signing
//! keys no longer published. Each refresh reads only rows changed since the last one
//! (with an overlap, so a row committed late is not missed), and a full reload runs every
//! minute as a safety net. A revocation, a disabled or deleted application, or a revoked key
//! therefore takes effect within about one poll interval on every replica, without a database
//! round trip per request.
//!
//! `last_used_at` of API keys is collected here and written in one batch per flush interval.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use shared::claims::RETIRED_KEY_PUBLISHED_SECS;
use shared::db::{Db, DbError};
use shared::{Environment, ScopeSet, Tier};

use crate::db::credentials::{self, ApiKeyRecordRow, AppStatusRow};

/// Rows changed this long before the last cursor are read again.
const OVERLAP_US: i64 = 5_000_000;
/// Unknown digests are remembered this long, so a flood of made-up keys costs one lookup each.
const NEGATIVE_TTL_US: i64 = 5_000_000;
const MAX_NEGATIVE: usize = 50_000;

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

#[derive(Default)]
struct Cursors {
    apps: i64,
    keys: i64,
    revoked: i64,
}

#[derive(Default)]
pub struct CredentialState {
    apps: RwLock<HashMap<String, Arc<AppStatus>>>,
    keys: RwLock<HashMap<String, Arc<KeyRecord>>>,
    unknown_keys: Mutex<HashMap<String, i64>>,
    /// Revoked token ids (see [`jti_key`]) → the token's `exp`; dropped after it at each full
    /// reload.
    revoked: RwLock<HashMap<u128, i64>>,
    /// Signing keys retired so long ago, or revoked, that no token they signed is honoured.
    unpublished_kids: RwLock<HashSet<String>>,
    cursors: Mutex<Cursors>,
}

impl CredentialState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads changes since the cursors (everything when `full`). Blocking: run it on the
    /// blocking pool.
    pub fn refresh(&self, db: &Db, now: i64, full: bool) -> Result<(), DbError> {
        let (apps_since, keys_since, revoked_since) = {
            let c = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
            if full {
                (i64::MIN, i64::MIN, i64::MIN)
            } else {
                (
                    c.apps - OVERLAP_US,
                    c.keys - OVERLAP_US,
                    c.revoked - OVERLAP_US,
                )
            }
        };
        let unpublished_before = now - RETIRED_KEY_PUBLISHED_SECS * 1_000_000;
        let (apps, keys, revoked, unpublished) = db.run_blocking(move |c| {
            Ok((
                credentials::apps_changed_since(c, apps_since)?,
                credentials::keys_changed_since(c, keys_since)?,
                credentials::revocations_since(c, revoked_since, now)?,
                credentials::unpublished_kids(c, unpublished_before)?,
            ))
        })?;
        {
            let current = self
                .unpublished_kids
                .read()
                .unwrap_or_else(|p| p.into_inner());
            let changed = current.len() != unpublished.len()
                || unpublished.iter().any(|k| !current.contains(k));
            drop(current);
            if changed {
                *self
                    .unpublished_kids
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = unpublished.into_iter().collect();
            }
        }
        // Write locks block every request's read lock: take them only when there is news.
        if !apps.is_empty() {
            let mut map = self.apps.write().unwrap_or_else(|p| p.into_inner());
            for row in &apps {
                map.insert(row.client_id.clone(), app_status(row));
            }
        }
        if !keys.is_empty() {
            let mut map = self.keys.write().unwrap_or_else(|p| p.into_inner());
            let mut unknown = self.unknown_keys.lock().unwrap_or_else(|p| p.into_inner());
            for row in &keys {
                unknown.remove(&row.key_digest);
                match KeyRecord::from_row(row) {
                    Some(rec) => {
                        // Carry a use not yet flushed over to the fresh record.
                        if let Some(old) = map.get(&row.key_digest) {
                            rec.record_use(old.pending_use.swap(0, Ordering::Relaxed));
                        }
                        map.insert(row.key_digest.clone(), Arc::new(rec))
                    }
                    None => map.remove(&row.key_digest),
                };
            }
        }
        if full || !revoked.is_empty() {
            let mut map = self.revoked.write().unwrap_or_else(|p| p.into_inner());
            if full {
                map.retain(|_, exp| *exp > now);
            }
            for row in &revoked {
                map.insert(jti_key(&row.jti), row.expires_at);
            }
        }
        let mut c = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        c.apps = apps
            .iter()
            .map(|r| r.updated_at)
            .max()
            .unwrap_or(c.apps)
            .max(c.apps);
        c.keys = keys
            .iter()
            .map(|r| r.updated_at)
            .max()
            .unwrap_or(c.keys)
            .max(c.keys);
        c.revoked = revoked
            .iter()
            .map(|r| r.revoked_at)
            .max()
            .unwrap_or(c.revoked)
            .max(c.revoked);
        Ok(())
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

    /// The status of an application; a miss (an application created since the last poll) is
    /// read from the database once, when `lookup` allows it.
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
        let id = client_id.to_owned();
        let row = db
            .run(move |c| credentials::app(c, &id))
            .await
            .map_err(LookupError::Db)?;
        Ok(row.map(|r| {
            let status = app_status(&r);
            self.apps
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(r.client_id, status.clone());
            status
        }))
    }

    /// The API key with this digest; a miss is read from the database once and remembered
    /// (found or not) until the next poll brings news.
    pub async fn key(
        &self,
        db: &Db,
        digest: &str,
        now: i64,
        lookup: Lookup,
    ) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        if let Some(k) = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
        {
            return Ok(Some(k.clone()));
        }
        {
            let unknown = self.unknown_keys.lock().unwrap_or_else(|p| p.into_inner());
            if unknown
                .get(digest)
                .is_some_and(|t| now - t < NEGATIVE_TTL_US)
            {
                return Ok(None);
            }
        }
        if lookup == Lookup::MemoryOnly {
            return Err(LookupError::NotInMemory);
        }
        let d = digest.to_owned();
        let row = db
            .run(move |c| credentials::key_by_digest(c, &d))
            .await
            .map_err(LookupError::Db)?;
        match row.as_ref().and_then(KeyRecord::from_row) {
            Some(rec) => {
                let rec = Arc::new(rec);
                self.keys
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(digest.to_owned(), rec.clone());
                Ok(Some(rec))
            }
            None => {
                let mut unknown = self.unknown_keys.lock().unwrap_or_else(|p| p.into_inner());
                if unknown.len() >= MAX_NEGATIVE {
                    unknown.clear();
                }
                unknown.insert(digest.to_owned(), now);
                Ok(None)
            }
        }
    }

    /// Writes the collected `last_used_at` values in one pass. Blocking.
    pub fn flush_last_used(&self, db: &Db) -> Result<usize, DbError> {
        let pending: Vec<(String, i64)> = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter_map(|k| {
                let at = k.pending_use.swap(0, Ordering::Relaxed);
                (at > 0).then(|| (k.id.clone(), at))
            })
            .collect();
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
