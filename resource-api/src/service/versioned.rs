//! The one write path of every versioned record (cases, SARs, watchlist entries, subjects):
//! read, check `If-Match`, apply the change, write back with a conditional update on the
//! version read, and run the follow-up writes (the case history event) — all in one
//! transaction. When another write came between the read and the update, nothing was written:
//! the attempt is retried from a fresh read, so a change is always applied to the row as it is
//! and the row and its history can never disagree. One code path, correct on SQLite (one
//! writer at a time) and on PostgreSQL at READ COMMITTED (where a read-modify-write without
//! the version check lost updates).

use std::sync::Arc;

use shared::db::{Db, DbConnection};

use crate::conditional::IfMatch;
use crate::db::{Scoped, VersionedRow};
use crate::error::{Error, Result};

/// Attempts before giving up with a 409. Each failed attempt means another write succeeded,
/// so this bounds the number of writes that may overtake one request, not its time.
const MAX_ATTEMPTS: usize = 32;

/// Loads record `id`, checks `if_match` against its version (412), lets `change` apply the
/// request to it and writes it when `change` returns `Some(effect)`; then `after` runs the
/// follow-up writes with that effect in the same transaction. `change` must not write: it may
/// run several times. `None` from `change` leaves the record (and its version) as it is.
///
/// `change` gets the time of the write: `now`, or one microsecond after the record's last
/// write when that is later (a request that arrived earlier but wrote later, or another
/// replica's clock), so that `updated_at` and the history's order follow the versions.
pub(crate) async fn update<R, E, F, A>(
    db: &Db,
    scoped: Scoped,
    id: &str,
    if_match: IfMatch,
    now: i64,
    change: F,
    after: A,
) -> Result<R>
where
    R: VersionedRow,
    F: Fn(&mut R, i64, &mut DbConnection) -> Result<Option<E>> + Send + Sync + 'static,
    A: Fn(&R, E, &mut DbConnection) -> Result<()> + Send + Sync + 'static,
{
    let id: Arc<str> = id.into();
    let (change, after, if_match) = (Arc::new(change), Arc::new(after), Arc::new(if_match));
    for _ in 0..MAX_ATTEMPTS {
        let (id, change, after, if_match) =
            (id.clone(), change.clone(), after.clone(), if_match.clone());
        let attempt = db
            .transaction(move |c| {
                let Some(mut row) = R::find(&scoped, c, &id)? else {
                    return Err(Error::NotFound(R::NAME));
                };
                if !if_match.matches(row.version()) {
                    return Err(Error::PreconditionFailed);
                }
                let at = now.max(row.updated_at() + 1);
                let Some(effect) = change(&mut row, at, c)? else {
                    return Ok(Some(row));
                };
                if !row.save_if_current(&scoped, c)? {
                    // Nothing was written in this transaction: read again.
                    return Ok(None);
                }
                after(&row, effect, c)?;
                Ok(Some(row))
            })
            .await?;
        if let Some(row) = attempt {
            return Ok(row);
        }
    }
    Err(too_busy())
}

/// Loads record `id`, checks `if_match` (412), and deletes it with `delete`, which must remove
/// the row only if it is still at the version given and say how many rows it removed.
pub(crate) async fn delete<R, D>(
    db: &Db,
    scoped: Scoped,
    id: &str,
    if_match: IfMatch,
    delete: D,
) -> Result<()>
where
    R: VersionedRow,
    D: Fn(&Scoped, &mut DbConnection, &str, i64) -> diesel::QueryResult<usize>
        + Send
        + Sync
        + 'static,
{
    let id: Arc<str> = id.into();
    let (delete, if_match) = (Arc::new(delete), Arc::new(if_match));
    for _ in 0..MAX_ATTEMPTS {
        let (id, delete, if_match) = (id.clone(), delete.clone(), if_match.clone());
        let deleted = db
            .transaction(move |c| {
                let Some(row) = R::find(&scoped, c, &id)? else {
                    return Err(Error::NotFound(R::NAME));
                };
                if !if_match.matches(row.version()) {
                    return Err(Error::PreconditionFailed);
                }
                Ok(delete(&scoped, c, &id, row.version())? == 1)
            })
            .await?;
        if deleted {
            return Ok(());
        }
    }
    Err(too_busy())
}

fn too_busy() -> Error {
    Error::Conflict("The record is being changed by many requests at once; retry.".into())
}
