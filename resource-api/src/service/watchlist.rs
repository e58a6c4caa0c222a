//! Watchlist entries and name screening.
//!
//! Screening never scores the whole list and never scores on a database connection. Writes
//! store each entry's normalised names and its candidate keys (`watchlist_terms`) in the same
//! transaction as the entry; a screen looks up at most `screening::MAX_CANDIDATES` entries
//! sharing the most keys with the query, returns the connection, and scores those on a thread
//! of lower priority. Subject risk scoring goes through the same path ([`best_score`]).
//!
//! What one screen may cost is bounded three ways. Its scoring does at most
//! `screening::SCREEN_BUDGET` work (see `domain::screening`). At most one screen per core
//! scores at a time, and at most two per core hold candidates in memory ([`Scoring`]); the
//! others wait in line for a second, then get 503 with `Retry-After`. And a screen whose client hangs up stops: actix drops the request's future
//! (the server does not keep half-closed connections, see `startup`), which sets the flag the
//! scoring reads before every name, so no work outlives its request by more than one name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::Connection;
use serde::{Deserialize, Serialize};
use shared::db::{Db, DbError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use utoipa::ToSchema;

use super::idempotency::{Created, IdempotentRequest, StoredAnswer};
use super::records::{self, check_id, Record};
use crate::conditional::{IfMatch, Versioned};
use crate::config::ScoringConfig;
use crate::db::watchlist::{ScreeningRow, WatchlistRow};
use crate::db::{ids_from_json, ids_to_json, EnvDb, Scoped};
use crate::domain::screening::{
    self, Cancelled, Candidate, Query, Screened, MAX_ALIASES, MAX_NAME_CHARS,
};
use crate::domain::{self, new_id, BirthDate, CountryCode};
use crate::error::{Error, Result};

pub use crate::domain::values::EntryType;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    /// At most 200 characters.
    #[schema(max_length = 200)]
    pub name: String,
    /// Other names of the entry: at most 20, each at most 200 characters.
    #[schema(max_items = 20)]
    pub aliases: Option<Vec<String>>,
    pub entry_type: EntryType,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// YYYY-MM-DD.
    pub date_of_birth: Option<String>,
    /// Where the entry comes from, e.g. `ofac-sdn`.
    pub list_source: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEntry {
    /// At most 200 characters.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Replaces all aliases: at most 20, each at most 200 characters.
    #[schema(max_items = 20)]
    pub aliases: Option<Vec<String>>,
    pub entry_type: Option<EntryType>,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
    pub list_source: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenRequest {
    /// The name to screen, at most 200 characters.
    #[schema(max_length = 200)]
    pub name: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = WatchlistEntry)]
pub struct EntryView {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub entry_type: EntryType,
    /// ISO 3166-1 alpha-2, upper-case.
    #[schema(required = true, inline)]
    pub country: Option<CountryCode>,
    /// YYYY-MM-DD.
    #[schema(required = true, inline)]
    pub date_of_birth: Option<BirthDate>,
    pub list_source: String,
    pub reason: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenMatch {
    pub entry: EntryView,
    /// 0.0–1.0, higher is closer.
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenResponse {
    pub matches: Vec<ScreenMatch>,
}

impl Record for WatchlistRow {
    type View = EntryView;

    fn into_view(self) -> EntryView {
        let r = self;
        EntryView {
            id: r.id,
            name: r.name,
            aliases: ids_from_json(&r.aliases),
            entry_type: r.entry_type,
            country: r.country,
            date_of_birth: r.date_of_birth,
            list_source: r.list_source,
            reason: r.reason,
            created_at: shared::time::rfc3339(r.created_at),
            updated_at: shared::time::rfc3339(r.updated_at),
        }
    }
}

/// A watchlist or screened name: non-empty, at most `MAX_NAME_CHARS` characters.
pub fn name(field: &'static str, value: &str) -> Result<String> {
    domain::text(field, value, true, MAX_NAME_CHARS)
}

fn aliases(v: &[String]) -> Result<Vec<String>> {
    if v.len() > MAX_ALIASES {
        return Err(Error::validation(
            "aliases",
            format!("aliases may hold at most {MAX_ALIASES} names"),
        ));
    }
    v.iter().map(|a| name("aliases", a)).collect()
}

/// Fills in the row's normalised names and index version and returns its candidate keys.
fn index(row: &mut WatchlistRow) -> Vec<String> {
    let aliases = ids_from_json(&row.aliases);
    let names = screening::normalize_names(
        std::iter::once(row.name.as_str()).chain(aliases.iter().map(String::as_str)),
    );
    row.normalized_names = ids_to_json(&screening::encode_names(&names));
    row.index_version = screening::INDEX_VERSION;
    screening::candidate_keys(&names).into_iter().collect()
}

/// Entries re-indexed per transaction by [`index_stale_entries`].
const REINDEX_BATCH: i64 = 500;

/// Indexes every entry written before the screening index existed, or under an older
/// `screening::INDEX_VERSION`. Runs once at startup; returns how many entries it indexed.
///
/// Two replicas starting at once may race on the same batch; the loser's transaction fails
/// (or finds nothing left) and the next round continues with what is still stale.
pub fn index_stale_entries(db: &Db) -> std::result::Result<usize, DbError> {
    let mut total = 0;
    let mut failures = 0;
    loop {
        let batch = db.run_blocking(|c| {
            c.transaction(|c| {
                let rows = WatchlistRow::stale(c, screening::INDEX_VERSION, REINDEX_BATCH)?;
                for mut row in rows.iter().cloned() {
                    let terms = index(&mut row);
                    row.reindex(c, &terms)?;
                }
                Ok(rows.len())
            })
        });
        match batch {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if failures < 3 => {
                failures += 1;
                tracing::warn!("watchlist indexing batch failed, retrying: {e}");
            }
            Err(e) => return Err(e),
        }
    }
}

pub async fn create(
    repo: &EnvDb,
    input: CreateEntry,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Created<EntryView>> {
    let name = name("name", &input.name)?;
    let aliases = ids_to_json(&aliases(input.aliases.as_deref().unwrap_or(&[]))?);
    let (country, date_of_birth) = domain::country_and_birth(
        input.country.as_deref(),
        input.date_of_birth.as_deref(),
        now,
    )?;
    let mut row = WatchlistRow {
        id: new_id("wl"),
        environment: repo.scoped().env().to_owned(),
        name,
        aliases,
        entry_type: input.entry_type,
        country,
        date_of_birth,
        list_source: domain::text("list_source", &input.list_source, true, 100)?,
        reason: domain::text("reason", input.reason.as_deref().unwrap_or(""), false, 2000)?,
        created_at: now,
        updated_at: now,
        version: 1,
        normalized_names: String::new(),
        index_version: 0,
    };
    let terms = index(&mut row);
    records::create(
        repo,
        idem,
        now,
        move |_, _| Ok(row.clone()),
        // The candidate keys are written with the entry, in its transaction.
        move |scoped, row, c| Ok(scoped.replace_watchlist_terms(c, &row.id, &terms)?),
    )
    .await
}

pub async fn patch(
    repo: &EnvDb,
    id: &str,
    input: PatchEntry,
    if_match: IfMatch,
    now: i64,
) -> Result<Versioned<EntryView>> {
    check_id::<WatchlistRow>(id)?;
    let new_name = input.name.as_deref().map(|n| name("name", n)).transpose()?;
    let aliases = input.aliases.as_deref().map(aliases).transpose()?;
    let (country, dob) = domain::country_and_birth(
        input.country.as_deref(),
        input.date_of_birth.as_deref(),
        now,
    )?;
    let source = input
        .list_source
        .as_deref()
        .map(|s| domain::text("list_source", s, true, 100))
        .transpose()?;
    let reason = input
        .reason
        .as_deref()
        .map(|r| domain::text("reason", r, false, 2000))
        .transpose()?;
    let entry_type = input.entry_type;
    let row = records::update(
        repo,
        id,
        if_match,
        now,
        move |row: &mut WatchlistRow, _, at, _| {
            if let Some(v) = &new_name {
                row.name = v.clone();
            }
            if let Some(v) = &aliases {
                row.aliases = ids_to_json(v);
            }
            if let Some(v) = entry_type {
                row.entry_type = v;
            }
            if let Some(v) = &country {
                row.country = Some(v.clone());
            }
            if let Some(v) = &dob {
                row.date_of_birth = Some(v.clone());
            }
            if let Some(v) = &source {
                row.list_source = v.clone();
            }
            if let Some(v) = &reason {
                row.reason = v.clone();
            }
            row.updated_at = at;
            // The normalised names and candidate keys follow the names, in the same write.
            Ok(Some(index(row)))
        },
        move |scoped, row, terms, c| Ok(scoped.replace_watchlist_terms(c, &row.id, &terms)?),
    )
    .await?;
    Ok(records::versioned(row))
}

/// Removes an entry; with `idem`, a retry answers the first 204 again (the stored answer)
/// instead of 404.
pub async fn delete(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Option<StoredAnswer>> {
    records::delete::<WatchlistRow, _>(repo, id, if_match, now, idem, |scoped, c, id, version| {
        scoped.delete_watchlist(c, id, version)
    })
    .await
}

/// Best matches first, scores ≥ the screening threshold, at most 25.
pub async fn screen(
    repo: &EnvDb,
    scoring: &Scoring,
    input: ScreenRequest,
    now: i64,
) -> Result<ScreenResponse> {
    let (db, scoped) = (repo.db(), repo.scoped());
    let name = name("name", &input.name)?;
    let (country, dob) = domain::country_and_birth(
        input.country.as_deref(),
        input.date_of_birth.as_deref(),
        now,
    )?;
    let hits = best_matches(scoring, db, scoped, name, country, dob, 25).await?;
    if hits.is_empty() {
        return Ok(ScreenResponse { matches: vec![] });
    }
    let ids: Vec<String> = hits.iter().map(|(id, _)| id.clone()).collect();
    let rows = db.run(move |c| scoped.watchlist_by_ids(c, &ids)).await?;
    let mut rows: std::collections::HashMap<String, WatchlistRow> =
        rows.into_iter().map(|r| (r.id.clone(), r)).collect();
    // An entry deleted since it was scored is simply left out.
    let matches = hits
        .into_iter()
        .filter_map(|(id, score)| {
            rows.remove(&id).map(|r| ScreenMatch {
                entry: r.into_view(),
                score,
            })
        })
        .collect();
    Ok(ScreenResponse { matches })
}

/// The best score of `name` against the watchlist, if any entry reaches the threshold; the
/// watchlist input of subject risk scoring.
pub async fn best_score(
    scoring: &Scoring,
    db: &Db,
    scoped: Scoped,
    name: &str,
    country: Option<CountryCode>,
    dob: Option<BirthDate>,
) -> Result<Option<f64>> {
    let hits = best_matches(scoring, db, scoped, name.to_owned(), country, dob, 1).await?;
    Ok(hits.first().map(|&(_, score)| score))
}

/// The scoring turns of one resource API. At most `ScoringConfig::concurrency` screens (the
/// number of cores, by default) score at once, whoever asks, and at most twice as many hold
/// candidates in memory (read, being scored or waiting to be), so that one can read from the
/// database while another scores. Past either, screens wait in line, first come first served;
/// one that has not got both within `ScoringConfig::wait` in all gets 503 with `Retry-After`
/// ([`Error::ScoringBusy`]). Waiting for the first costs nothing but the request, and both are
/// given back only when the scoring on its thread has stopped, so a screen whose client
/// went away keeps them until its scoring has noticed (at the next name).
#[derive(Clone)]
pub struct Scoring {
    /// Screens holding candidates: twice the scoring turns.
    holders: Arc<Semaphore>,
    turns: Arc<Semaphore>,
    wait: Duration,
    counts: Arc<Counts>,
}

/// What the screens of one resource API did since it started, for tests and diagnosis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoringCounts {
    /// Screens whose scoring ran to the end, within the budget or at it.
    pub scored: u64,
    /// Of those, the screens that stopped at the budget (`screening::SCREEN_BUDGET`).
    pub budget_exhausted: u64,
    /// The most work one screen did, in `screening::Screened::work` units.
    pub most_work: u64,
    /// Screens refused (503) because they got no turn within the wait.
    pub refused: u64,
    /// Screens whose request was dropped before it finished: the client went away.
    pub abandoned: u64,
    /// Of those, the screens whose scoring had started and stopped early.
    pub cancelled: u64,
    /// Screens waiting in line right now.
    pub waiting: u64,
}

#[derive(Debug, Default)]
struct Counts {
    scored: AtomicU64,
    budget_exhausted: AtomicU64,
    most_work: AtomicU64,
    refused: AtomicU64,
    abandoned: AtomicU64,
    cancelled: AtomicU64,
    waiting: AtomicU64,
}

impl Scoring {
    pub fn new(config: &ScoringConfig) -> Scoring {
        Scoring {
            holders: Arc::new(Semaphore::new(2 * config.concurrency)),
            turns: Arc::new(Semaphore::new(config.concurrency)),
            wait: config.wait,
            counts: Arc::default(),
        }
    }

    pub fn counts(&self) -> ScoringCounts {
        let c = &self.counts;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        ScoringCounts {
            scored: get(&c.scored),
            budget_exhausted: get(&c.budget_exhausted),
            most_work: get(&c.most_work),
            refused: get(&c.refused),
            abandoned: get(&c.abandoned),
            cancelled: get(&c.cancelled),
            waiting: get(&c.waiting),
        }
    }

    /// A permit of `gate` before `deadline`, or [`Error::ScoringBusy`].
    async fn enter(
        &self,
        gate: &Arc<Semaphore>,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit> {
        self.counts.waiting.fetch_add(1, Ordering::Relaxed);
        // Counted out however the wait ends, including the request being dropped.
        let _waiting = Defer(|| {
            self.counts.waiting.fetch_sub(1, Ordering::Relaxed);
        });
        match tokio::time::timeout_at(deadline, gate.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.counts.refused.fetch_add(1, Ordering::Relaxed);
                Err(Error::ScoringBusy)
            }
        }
    }
}

/// Runs the closure when dropped.
struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Held by a screen's request future for as long as it runs: dropped before [`Abandon::finish`],
/// that is with the request (actix drops the handler's future when the client disconnects),
/// it counts the screen as abandoned and sets the flag its scoring reads before every name.
struct Abandon {
    cancel: Arc<AtomicBool>,
    counts: Arc<Counts>,
    finished: bool,
}

impl Abandon {
    fn new(counts: Arc<Counts>) -> Abandon {
        Abandon {
            cancel: Arc::new(AtomicBool::new(false)),
            counts,
            finished: false,
        }
    }

    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if !self.finished {
            self.cancel.store(true, Ordering::Relaxed);
            self.counts.abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `(entry id, score)` of at most `limit` entries at or above the threshold, best first.
///
/// In its turns ([`Scoring`]), the connection is held only for two indexed reads: the
/// candidate ids, then those entries' stored normalised names. Scoring runs afterwards on a
/// thread of lower priority ([`on_scoring_thread`]), within `screening::SCREEN_BUDGET`, and
/// stops at the next name if this future is dropped.
async fn best_matches(
    scoring: &Scoring,
    db: &Db,
    scoped: Scoped,
    name: String,
    country: Option<CountryCode>,
    dob: Option<BirthDate>,
    limit: usize,
) -> Result<Vec<(String, f64)>> {
    let query_tokens = screening::normalize_name(&name);
    let terms: Vec<String> = screening::candidate_keys(std::slice::from_ref(&query_tokens))
        .into_iter()
        .collect();
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let abandon = Abandon::new(scoring.counts.clone());
    let cancel = abandon.cancel.clone();
    let hits = async {
        let deadline = Instant::now() + scoring.wait;
        let holding = scoring.enter(&scoring.holders, deadline).await?;
        let (ids, rows) = db
            .run(move |c| {
                let ids = scoped.screening_candidates(c, &terms, screening::MAX_CANDIDATES)?;
                let rows = scoped.watchlist_for_scoring(c, &ids)?;
                Ok((ids, rows))
            })
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let turn = scoring.enter(&scoring.turns, deadline).await?;
        let counts = scoring.counts.clone();
        // The scoring thread logs in the request's span (its request id).
        let span = tracing::Span::current();
        on_scoring_thread(move || {
            // The turns go back when the scoring stops, not when the request is dropped.
            let _turns = (holding, turn);
            span.in_scope(|| {
                let input = ScreenInput {
                    name: &name,
                    country: country.as_ref().map(CountryCode::as_str),
                    dob: dob.as_ref().map(BirthDate::as_str),
                    limit,
                };
                let scored = score_rows(rows, &ids, input, &cancel);
                counts.record(&scored);
                scored.map(|(hits, _)| hits)
            })
        })
        .await?
        .map_err(|_| Error::Internal("screening cancelled with its request still there".into()))
    }
    .await;
    abandon.finish();
    hits
}

/// How much less the scoring threads count than the server's others when the CPU is short:
/// added to their nice value (see [`on_scoring_thread`]). At 10 more, a thread weighs about a
/// tenth of one at the server's own (the kernel's weights fall by about 1.25 per step).
const SCORING_NICE: i32 = 10;

/// Runs `job` on a thread of its own, started for it, whose nice value is raised by
/// [`SCORING_NICE`] (on Linux, where a thread's nice value is its own), so that when the cores
/// are busy, scoring gets what requests that need little CPU leave, and another tenant's
/// request does not wait behind it. The scoring turns bound how many such threads there are.
/// Not the blocking pool: its threads also run database work, which must keep its priority, and
/// a thread's priority cannot be raised again without privileges.
async fn on_scoring_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("screening".into())
        .spawn(move || {
            lower_priority();
            // Nobody is waiting any more if the request was dropped.
            let _ = answer.send(job());
        })
        .map_err(|e| Error::Internal(format!("cannot start a screening thread: {e}")))?;
    answered
        .await
        .map_err(|_| Error::Internal("a screening thread stopped without an answer".into()))
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // PRIO_PROCESS with a thread id reads and sets that thread's nice value alone
    // (setpriority(2), BUGS); 19 is the lowest priority.
    let me = Some(rustix::thread::gettid());
    let lowered = rustix::process::getpriority_process(me)
        .and_then(|nice| rustix::process::setpriority_process(me, (nice + SCORING_NICE).min(19)));
    if let Err(e) = lowered {
        tracing::debug!("the screening thread keeps its priority: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

impl Counts {
    fn record(&self, scored: &Scored) {
        match scored {
            Ok((_, screened)) => {
                self.scored.fetch_add(1, Ordering::Relaxed);
                self.most_work.fetch_max(screened.work, Ordering::Relaxed);
                if !screened.complete {
                    self.budget_exhausted.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        work = screened.work,
                        "a screen stopped at its work budget; it answered with the best of what it scored"
                    );
                }
            }
            Err(Cancelled) => {
                self.cancelled.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The hits by entry id with what the screen did, or its cancellation.
type Scored = std::result::Result<(Vec<(String, f64)>, Screened), Cancelled>;

/// What is screened, besides the candidates.
struct ScreenInput<'a> {
    name: &'a str,
    country: Option<&'a str>,
    dob: Option<&'a str>,
    limit: usize,
}

/// Scores candidate rows, in the order of `ids` (the most shared candidate keys first, then by
/// id), which is also how equal scores are ordered, so that results do not depend on the order
/// the database returned the rows in. Each row's names are decoded into one string per name.
fn score_rows(
    mut rows: Vec<ScreeningRow>,
    ids: &[String],
    input: ScreenInput,
    cancel: &AtomicBool,
) -> Scored {
    let rank: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|r| rank.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    let names: Vec<Vec<String>> = rows
        .iter_mut()
        .map(|r| ids_from_json(&std::mem::take(&mut r.normalized_names)))
        .collect();
    let candidates: Vec<Candidate> = rows
        .iter()
        .zip(names)
        .map(|(r, names)| Candidate {
            names,
            country: r.country.as_ref().map(CountryCode::as_str),
            date_of_birth: r.date_of_birth.as_ref().map(BirthDate::as_str),
        })
        .collect();
    let query = Query {
        name: input.name,
        country: input.country,
        date_of_birth: input.dob,
    };
    let screened = screening::screen(
        &query,
        &candidates,
        screening::DEFAULT_THRESHOLD,
        input.limit,
        cancel,
    )?;
    let hits = screened
        .hits
        .iter()
        .map(|&(i, score)| (rows[i].id.clone(), score))
        .collect();
    Ok((hits, screened))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid()))
            .expect("a thread may read its own priority")
    }

    #[actix_web::test]
    async fn scoring_runs_on_a_thread_of_lower_priority_and_leaves_the_callers_alone() {
        let before = own_nice();
        let scoring_nice = on_scoring_thread(own_nice).await.expect("a scoring thread");
        assert_eq!(scoring_nice, (before + SCORING_NICE).min(19));
        assert_eq!(own_nice(), before);
    }
}
