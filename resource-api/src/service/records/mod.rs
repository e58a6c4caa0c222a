//! The one path of every `/v2` record: read one, list, create, change, delete.
//!
//! Each record family (cases, SARs, watchlist entries, subjects; transactions and alerts are
//! only listed) says what it is once — its row and queries ([`Listed`], [`VersionedRow`], in
//! `db/`) and its view ([`Record`], next to the view in its `service/` module) — and every
//! operation on it goes through the generic functions here. Only the rules differ per family:
//! what a create checks and builds, what a change does, what else a write stores (a case's
//! history event, a watchlist entry's candidate keys). So a hook on every write has exactly
//! two places to go, and the webhook outbox is there: [`create`], [`update`] and [`delete`]
//! each write the record's event (`service::records::events`, [`Evented`]) in the write's own
//! transaction, after the row and its follow-up writes.
//!
//! Writes of versioned records: read, check `If-Match`, apply the change, write back with a
//! conditional update on the version read, and run the follow-up writes — all in one
//! transaction. When another write came between the read and the update, nothing was written:
//! the attempt is retried from a fresh read, so a change is always applied to the row as it is
//! and the row and its history can never disagree. One code path, correct on SQLite (one
//! writer at a time) and on PostgreSQL at READ COMMITTED (where a read-modify-write without
//! the version check lost updates).

pub mod events;

use std::sync::Arc;

use serde::Serialize;
use shared::db::DbConnection;

use actix_web::http::StatusCode;

use super::idempotency::{self, Answer, Created, IdempotentRequest, StoredAnswer};
use crate::conditional::{IfMatch, Versioned};
use crate::db::{EnvDb, Listed, Scoped, VersionedRow};
use crate::domain::{plausible_id, Page, PageQuery, PageRequest};
use crate::error::{Error, Result};
use crate::pagination::{list_name, Lists};
use events::Evented;

/// A row as `/v2` shows it. Implemented next to each view.
pub trait Record: Listed + Clone {
    type View: Serialize + Send + 'static;

    /// The view, taking the row's strings: a list renders each row it read once, so its
    /// strings move into the view instead of being copied.
    fn into_view(self) -> Self::View;

    /// The view of a row that is still needed (a write's answer, its webhook event).
    fn view(&self) -> Self::View {
        self.clone().into_view()
    }
}

/// Attempts before giving up with a 409 `busy`. Each failed attempt means another write succeeded,
/// so this bounds the number of writes that may overtake one request, not its time.
const MAX_ATTEMPTS: usize = 32;

/// An id of another shape than the family's is a 404 without a lookup (and never reaches the
/// database, so NUL bytes never reach PostgreSQL).
pub fn check_id<R: VersionedRow>(id: &str) -> Result<()> {
    if plausible_id(R::ID_PREFIX, id) {
        Ok(())
    } else {
        Err(Error::NotFound(R::NAME))
    }
}

/// The view of a row with its version (the `ETag`); the row moves into its view.
pub fn versioned<R: Record + VersionedRow>(row: R) -> Versioned<R::View> {
    let version = row.version();
    Versioned::new(row.into_view(), version)
}

/// The row `id` of this environment, or a 404.
pub async fn read<R: VersionedRow>(repo: &EnvDb, id: &str) -> Result<R> {
    check_id::<R>(id)?;
    let (scoped, id) = (repo.scoped(), id.to_owned());
    repo.db()
        .run(move |c| R::find(&scoped, c, &id))
        .await?
        .ok_or(Error::NotFound(R::NAME))
}

/// `GET /v2/<family>/{id}`.
pub async fn get<R: Record + VersionedRow>(repo: &EnvDb, id: &str) -> Result<Versioned<R::View>> {
    Ok(versioned(read::<R>(repo, id).await?))
}

/// `GET /v2/<family>`: one page of the list with these (validated) filters.
pub async fn list<R: Record>(
    repo: &EnvDb,
    lists: &Lists,
    filters: R::Filters,
    q: &PageQuery,
) -> Result<Page<R::View>> {
    let (db, scoped) = (repo.db(), repo.scoped());
    let page = PageRequest::parse(q, list_name(R::LIST, scoped.env(), &filters))?;
    let req = page.clone();
    let (rows, total) = lists
        .read(db, move |c, l| R::list(&scoped, c, &filters, &req, l))
        .await?;
    Ok(Page::from_rows(rows, &page, total, R::keyset, R::into_view))
}

/// `POST /v2/<family>`: in one transaction (with the idempotent answer, see
/// `service::idempotency`), `build` checks what needs the database and gives the row, which is
/// inserted in this environment; then `after` runs the follow-up writes.
pub async fn create<R, B, A>(
    repo: &EnvDb,
    idem: Option<IdempotentRequest>,
    now: i64,
    build: B,
    after: A,
) -> Result<Created<R::View>>
where
    R: Evented,
    R::View: Serialize,
    B: Fn(&Scoped, &mut DbConnection) -> Result<R> + Send + Sync + 'static,
    A: Fn(&Scoped, &R, &mut DbConnection) -> Result<()> + Send + Sync + 'static,
{
    let scoped = repo.scoped();
    idempotency::create(repo.db(), idem, now, move |c| {
        let row = build(&scoped, c)?;
        row.insert(&scoped, c)?;
        after(&scoped, &row, c)?;
        events::emit(&scoped, c, R::created(), &row, now)?;
        Ok(versioned(row))
    })
    .await
}

/// Loads record `id`, checks `if_match` against its version (412), lets `change` apply the
/// request to it and writes it when `change` returns `Some(effect)`; then `after` runs the
/// follow-up writes with that effect in the same transaction. `change` must not write: it may
/// run several times. `None` from `change` leaves the record (and its version) as it is.
///
/// `change` gets the time of the write: `now`, or one microsecond after the record's last
/// write when that is later (a request that arrived earlier but wrote later, or another
/// replica's clock), so that `updated_at` and the history's order follow the versions.
pub async fn update<R, E, F, A>(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    now: i64,
    change: F,
    after: A,
) -> Result<R>
where
    R: Evented,
    F: Fn(&mut R, &Scoped, i64, &mut DbConnection) -> Result<Option<E>> + Send + Sync + 'static,
    A: Fn(&Scoped, &R, E, &mut DbConnection) -> Result<()> + Send + Sync + 'static,
{
    match write(repo, id, if_match, now, None, change, after).await? {
        Written::Row(row) => Ok(row),
        Written::Replayed(_) => Err(Error::Internal("a replay without a key".into())),
    }
}

/// [`update`] for a transition (`/assign`, `/close`, `/submit`) that may carry an
/// `Idempotency-Key`: the answer (200 with the record) is stored in the write's transaction, and
/// a request with the same key answers it again, before `If-Match` or the record's state is
/// looked at (see `service::idempotency`).
pub async fn transition<R, E, F, A>(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    now: i64,
    idem: Option<IdempotentRequest>,
    change: F,
    after: A,
) -> Result<Answer<R::View>>
where
    R: Evented,
    F: Fn(&mut R, &Scoped, i64, &mut DbConnection) -> Result<Option<E>> + Send + Sync + 'static,
    A: Fn(&Scoped, &R, E, &mut DbConnection) -> Result<()> + Send + Sync + 'static,
{
    Ok(
        match write(repo, id, if_match, now, idem, change, after).await? {
            Written::Row(row) => Answer::New(versioned(row)),
            Written::Replayed(answer) => Answer::Replayed(answer),
        },
    )
}

/// What a write of an existing record did: the row as written (or as it is, when the change
/// was none), or the answer stored earlier for the same `Idempotency-Key`.
enum Written<R> {
    Row(R),
    Replayed(StoredAnswer),
}

async fn write<R, E, F, A>(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    now: i64,
    idem: Option<IdempotentRequest>,
    change: F,
    after: A,
) -> Result<Written<R>>
where
    R: Evented,
    F: Fn(&mut R, &Scoped, i64, &mut DbConnection) -> Result<Option<E>> + Send + Sync + 'static,
    A: Fn(&Scoped, &R, E, &mut DbConnection) -> Result<()> + Send + Sync + 'static,
{
    check_id::<R>(id)?;
    let (db, scoped) = (repo.db(), repo.scoped());
    if idem.is_some() {
        idempotency::purge(db, now).await?;
    }
    let id: Arc<str> = id.into();
    let (change, after, if_match) = (Arc::new(change), Arc::new(after), Arc::new(if_match));
    let idem = Arc::new(idem);
    let mut races = 0;
    let mut attempts = 0;
    while attempts < MAX_ATTEMPTS {
        attempts += 1;
        let (id, change, after, if_match, key) = (
            id.clone(),
            change.clone(),
            after.clone(),
            if_match.clone(),
            idem.clone(),
        );
        let attempt = db
            .transaction(move |c| {
                if let Some(idem) = key.as_ref() {
                    if let Some(answer) = idempotency::stored(c, idem, now)? {
                        return Ok(Some(Written::Replayed(answer)));
                    }
                }
                let Some(mut row) = R::find(&scoped, c, &id)? else {
                    return Err(Error::NotFound(R::NAME));
                };
                if !if_match.matches(row.version()) {
                    return Err(Error::PreconditionFailed);
                }
                let at = now.max(row.updated_at() + 1);
                let before = row.clone();
                if let Some(effect) = change(&mut row, &scoped, at, c)? {
                    if !row.save_if_current(&scoped, c)? {
                        // Nothing was written in this transaction: read again.
                        return Ok(None);
                    }
                    after(&scoped, &row, effect, c)?;
                    events::emit(&scoped, c, R::changed(&before, &row), &row, at)?;
                }
                if let Some(idem) = key.as_ref() {
                    idempotency::store(
                        c,
                        idem,
                        now,
                        StatusCode::OK,
                        Some(&versioned(row.clone())),
                    )?;
                }
                Ok(Some(Written::Row(row)))
            })
            .await;
        // A concurrent request with the same key stored its answer first: read it.
        if idempotency::lost_race(&attempt) && races < idempotency::MAX_ATTEMPTS {
            races += 1;
            attempts -= 1;
            continue;
        }
        let attempt = match (attempt, idem.as_ref()) {
            (Err(refusal), Some(key)) => {
                match idempotency::stored_after_refusal(db, key, now, &refusal).await? {
                    Some(answer) => return Ok(Written::Replayed(answer)),
                    None => Err(refusal),
                }
            }
            (attempt, _) => attempt,
        };
        if let Some(written) = attempt? {
            return Ok(written);
        }
    }
    Err(too_busy())
}

/// Loads record `id`, checks `if_match` (412), and deletes it with `delete`, which must remove
/// the row only if it is still at the version given and say how many rows it removed. With an
/// `Idempotency-Key`, the 204 is stored in the same transaction and a retry answers it again
/// (instead of 404). The record's deletion event (with its view as it was) is written in the
/// same transaction.
pub async fn delete<R, D>(
    repo: &EnvDb,
    id: &str,
    if_match: IfMatch,
    now: i64,
    idem: Option<IdempotentRequest>,
    delete: D,
) -> Result<Option<StoredAnswer>>
where
    R: Evented,
    D: Fn(&Scoped, &mut DbConnection, &str, i64) -> diesel::QueryResult<usize>
        + Send
        + Sync
        + 'static,
{
    check_id::<R>(id)?;
    let (db, scoped) = (repo.db(), repo.scoped());
    if idem.is_some() {
        idempotency::purge(db, now).await?;
    }
    let id: Arc<str> = id.into();
    let (delete, if_match, idem) = (Arc::new(delete), Arc::new(if_match), Arc::new(idem));
    let mut races = 0;
    let mut attempts = 0;
    while attempts < MAX_ATTEMPTS {
        attempts += 1;
        let (id, delete, if_match, key) =
            (id.clone(), delete.clone(), if_match.clone(), idem.clone());
        let attempt = db
            .transaction(move |c| {
                if let Some(idem) = key.as_ref() {
                    if let Some(answer) = idempotency::stored(c, idem, now)? {
                        return Ok(Some(Some(answer)));
                    }
                }
                let Some(row) = R::find(&scoped, c, &id)? else {
                    return Err(Error::NotFound(R::NAME));
                };
                if !if_match.matches(row.version()) {
                    return Err(Error::PreconditionFailed);
                }
                if delete(&scoped, c, &id, row.version())? != 1 {
                    return Ok(None);
                }
                let at = now.max(row.updated_at() + 1);
                events::emit(&scoped, c, R::deleted(), &row, at)?;
                if let Some(idem) = key.as_ref() {
                    idempotency::store::<()>(c, idem, now, StatusCode::NO_CONTENT, None)?;
                }
                Ok(Some(None))
            })
            .await;
        if idempotency::lost_race(&attempt) && races < idempotency::MAX_ATTEMPTS {
            races += 1;
            attempts -= 1;
            continue;
        }
        let attempt = match (attempt, idem.as_ref()) {
            (Err(refusal), Some(key)) => {
                match idempotency::stored_after_refusal(db, key, now, &refusal).await? {
                    Some(answer) => return Ok(Some(answer)),
                    None => Err(refusal),
                }
            }
            (attempt, _) => attempt,
        };
        if let Some(done) = attempt? {
            return Ok(done);
        }
    }
    Err(too_busy())
}

/// Every attempt was overtaken by another write: transient, so 409 `busy` with `Retry-After`
/// (never `conflict`, which means the record's state forbids the change for good).
fn too_busy() -> Error {
    Error::RecordBusy("The record is being changed by many requests at once; retry.")
}
