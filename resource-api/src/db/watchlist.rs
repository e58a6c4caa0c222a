//! Watchlist entries and their screening index (candidate keys).

use diesel::dsl::count_star;
use diesel::prelude::*;
use shared::db::schema::{watchlist_entries, watchlist_terms};
use shared::db::DbConnection;

use super::{versioned_row, Scoped};
use crate::domain::values::EntryType;
use crate::domain::{BirthDate, CountryCode};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = watchlist_entries, treat_none_as_null = true)]
pub struct WatchlistRow {
    pub id: String,
    pub environment: String,
    pub name: String,
    pub aliases: String,
    pub entry_type: EntryType,
    pub country: Option<CountryCode>,
    pub date_of_birth: Option<BirthDate>,
    pub list_source: String,
    pub reason: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    /// The name and aliases normalised for screening: a JSON array of space-joined tokens.
    pub normalized_names: String,
    /// The `screening::INDEX_VERSION` the row's terms were written with; 0 is not indexed.
    pub index_version: i32,
}

/// What scoring a watchlist entry needs, and nothing more.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = watchlist_entries)]
pub struct ScreeningRow {
    pub id: String,
    pub normalized_names: String,
    pub country: Option<CountryCode>,
    pub date_of_birth: Option<BirthDate>,
}

/// One candidate key of one watchlist entry.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = watchlist_terms)]
struct TermRow<'a> {
    environment: &'a str,
    term: &'a str,
    entry_id: &'a str,
}

/// Terms are inserted this many rows per statement, well under SQLite's bound-parameter limit.
const TERM_BATCH: usize = 500;

/// Replaces the candidate keys of one entry. Called inside the transaction that writes the
/// entry, so the index never disagrees with a committed entry.
fn replace_terms(
    conn: &mut DbConnection,
    environment: &str,
    entry_id: &str,
    terms: &[String],
) -> QueryResult<()> {
    diesel::delete(
        watchlist_terms::table
            .filter(watchlist_terms::environment.eq(environment))
            .filter(watchlist_terms::entry_id.eq(entry_id)),
    )
    .execute(conn)?;
    for chunk in terms.chunks(TERM_BATCH) {
        let rows: Vec<TermRow> = chunk
            .iter()
            .map(|term| TermRow {
                environment,
                term,
                entry_id,
            })
            .collect();
        // Multi-row inserts are not available through the multi-backend connection, so each
        // backend gets the same typed statement directly: one round trip per chunk, not per key.
        let insert = diesel::insert_into(watchlist_terms::table).values(&rows);
        match conn {
            DbConnection::Pg(c) => insert.execute(c)?,
            DbConnection::Sqlite(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

impl WatchlistRow {
    /// Up to `limit` entries, of any environment, indexed under an older version than
    /// `version`, in no particular order (an order would sort every stale row per batch).
    /// Startup maintenance only: each row is re-indexed within its own environment.
    pub fn stale(conn: &mut DbConnection, version: i32, limit: i64) -> QueryResult<Vec<Self>> {
        watchlist_entries::table
            .filter(watchlist_entries::index_version.lt(version))
            .limit(limit)
            .select(WatchlistRow::as_select())
            .load(conn)
    }

    /// Stores the row's normalised names and version and replaces its terms, in its own
    /// environment. Startup maintenance only; call it inside a transaction.
    pub fn reindex(&self, conn: &mut DbConnection, terms: &[String]) -> QueryResult<()> {
        diesel::update(
            watchlist_entries::table
                .filter(watchlist_entries::environment.eq(&self.environment))
                .filter(watchlist_entries::id.eq(&self.id)),
        )
        .set((
            watchlist_entries::normalized_names.eq(&self.normalized_names),
            watchlist_entries::index_version.eq(self.index_version),
        ))
        .execute(conn)?;
        replace_terms(conn, &self.environment, &self.id, terms)
    }
}

impl Scoped {
    /// The ids of at most `limit` entries sharing the most of `terms`, most shared first: an
    /// indexed lookup whose cost follows the matching keys, not the length of the list.
    pub fn screening_candidates(
        &self,
        conn: &mut DbConnection,
        terms: &[String],
        limit: i64,
    ) -> QueryResult<Vec<String>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        watchlist_terms::table
            .filter(watchlist_terms::environment.eq(self.env()))
            .filter(watchlist_terms::term.eq_any(terms))
            .group_by(watchlist_terms::entry_id)
            .select(watchlist_terms::entry_id)
            .order_by((count_star().desc(), watchlist_terms::entry_id))
            .limit(limit)
            .load(conn)
    }

    /// The scoring fields of the entries with these ids.
    pub fn watchlist_for_scoring(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<ScreeningRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        watchlist_entries::table
            .filter(watchlist_entries::environment.eq(self.env()))
            .filter(watchlist_entries::id.eq_any(ids))
            .select(ScreeningRow::as_select())
            .load(conn)
    }

    /// The entries with these ids, in no particular order.
    pub fn watchlist_by_ids(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<WatchlistRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        watchlist_entries::table
            .filter(watchlist_entries::environment.eq(self.env()))
            .filter(watchlist_entries::id.eq_any(ids))
            .select(WatchlistRow::as_select())
            .load(conn)
    }

    /// Replaces the candidate keys of entry `id`; call it in the transaction that wrote it.
    pub fn replace_watchlist_terms(
        &self,
        conn: &mut DbConnection,
        id: &str,
        terms: &[String],
    ) -> QueryResult<()> {
        replace_terms(conn, self.env(), id, terms)
    }

    /// Deletes the entry and its candidate keys if it is still at `version`; 0 (and nothing
    /// written) when another write came first. The version is claimed first, so the keys are
    /// removed only for the entry that is then deleted.
    pub fn delete_watchlist(
        &self,
        conn: &mut DbConnection,
        id: &str,
        version: i64,
    ) -> QueryResult<usize> {
        let target = watchlist_entries::table
            .filter(watchlist_entries::environment.eq(self.env()))
            .filter(watchlist_entries::id.eq(id));
        let claimed = diesel::update(target.filter(watchlist_entries::version.eq(version)))
            .set(watchlist_entries::version.eq(version + 1))
            .execute(conn)?;
        if claimed == 0 {
            return Ok(0);
        }
        replace_terms(conn, self.env(), id, &[])?;
        diesel::delete(target).execute(conn)
    }
}

versioned_row!(
    WatchlistRow,
    watchlist_entries,
    name = "watchlist entry",
    prefix = "wl",
    list = "watchlist"
);
