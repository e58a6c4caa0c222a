//! Row structs and queries.
//!
//! Invariant: every query on `/v2` data is environment-bound. The queries are methods of
//! [`Scoped`], which filters every read, update and delete by its environment and stamps every
//! insert with it (an insert sets the row's `environment` itself, whatever the caller put
//! there); a `Scoped` is made only from a verified principal's environment, by the `/v2`
//! authentication middleware, and reaches handlers inside [`EnvDb`]. Forgetting the
//! environment filter is not expressible. The exceptions are deliberate and named:
//! [`credentials`] (the auth server's credential tables, not `/v2` data), [`idempotency`]
//! (keyed by credential, which belongs to one environment) and the startup re-indexing of
//! watchlist entries (`WatchlistRow::stale` and `reindex`, which keep each row in its own
//! environment).

pub mod activity;
pub mod cases;
pub mod credentials;
pub mod idempotency;
pub mod sars;
pub mod subjects;
pub mod watchlist;

use diesel::QueryResult;
use shared::db::{Db, DbConnection};
use shared::Environment;

/// The environment a request may see. Built from a verified principal, never from input.
#[derive(Debug, Clone, Copy)]
pub struct Scoped {
    env: Environment,
}

impl Scoped {
    /// Only the `/v2` authentication middleware calls this, with the environment of the
    /// principal it verified.
    pub(crate) fn bound_to(env: Environment) -> Scoped {
        Scoped { env }
    }

    /// The environment as stored.
    pub fn env(&self) -> &'static str {
        self.env.as_str()
    }
}

/// The environment-bound repository: the database and the [`Scoped`] environment of the
/// request's principal. Every `/v2` handler that reads or writes records takes one (it is an
/// extractor, see `auth`), and every `/v2` operation in `service/` takes it.
#[derive(Clone)]
pub struct EnvDb {
    db: Db,
    scoped: Scoped,
}

impl EnvDb {
    pub(crate) fn new(db: Db, scoped: Scoped) -> EnvDb {
        EnvDb { db, scoped }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn scoped(&self) -> Scoped {
        self.scoped
    }
}

/// A record whose every write bumps a version (cases, SARs, watchlist entries, subjects).
///
/// There is no unconditional save: a write names the version it read, so that two writers
/// that read the same version cannot both succeed, on either backend. (PostgreSQL at READ
/// COMMITTED re-checks the `WHERE` of an `UPDATE` against the row a concurrent writer
/// committed, so the loser updates nothing instead of overwriting the winner.)
pub trait VersionedRow: Sized + Send + 'static {
    /// The record's name in a 404.
    const NAME: &'static str;

    fn version(&self) -> i64;

    /// When the record was last written (Unix microseconds).
    fn updated_at(&self) -> i64;

    fn find(scoped: &Scoped, conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>>;

    /// Writes the row with its version bumped, if the stored version is still the one read.
    /// `false` (and nothing written, the row unchanged) when another write came first.
    fn save_if_current(&mut self, scoped: &Scoped, conn: &mut DbConnection) -> QueryResult<bool>;
}

/// Implements [`VersionedRow`] for a row struct with `id`, `environment` and `version`.
macro_rules! versioned_row {
    ($row:ty, $table:ident, $name:literal, $find:ident) => {
        impl $crate::db::VersionedRow for $row {
            const NAME: &'static str = $name;

            fn version(&self) -> i64 {
                self.version
            }

            fn updated_at(&self) -> i64 {
                self.updated_at
            }

            fn find(
                scoped: &Scoped,
                conn: &mut DbConnection,
                id: &str,
            ) -> QueryResult<Option<Self>> {
                scoped.$find(conn, id)
            }

            fn save_if_current(
                &mut self,
                scoped: &Scoped,
                conn: &mut DbConnection,
            ) -> QueryResult<bool> {
                let read = self.version;
                self.version = read + 1;
                let n = diesel::update(
                    $table::table
                        .filter($table::environment.eq(scoped.env()))
                        .filter($table::id.eq(&self.id))
                        .filter($table::version.eq(read)),
                )
                .set(&*self)
                .execute(conn)?;
                if n == 0 {
                    self.version = read;
                }
                Ok(n == 1)
            }
        }
    };
}
pub(crate) use versioned_row;

/// One page of a list in the order `(key, id)`, and the list's total (see
/// [`crate::pagination`]): at most `page_size + 1` rows, through the composite index on
/// `(…filters, key, id)`. `$base` is a closure giving the environment-bound, filtered, boxed
/// query. `?page=N` starts at a cached anchor (the `(key, id)` at the nearest multiple of
/// `ANCHOR_EVERY` rows at or below its offset) and skips the fewer than `ANCHOR_EVERY` rows
/// between, in the page's own query.
macro_rules! keyset_list {
    ($conn:expr, $lists:expr, $page:expr, $base:ident, $key:expr, $id:expr, $row:ty, desc) => {
        $crate::db::keyset_list!(@go $conn, $lists, $page, $base, $key, $id, $row, desc, le, lt)
    };
    ($conn:expr, $lists:expr, $page:expr, $base:ident, $key:expr, $id:expr, $row:ty, asc) => {
        $crate::db::keyset_list!(@go $conn, $lists, $page, $base, $key, $id, $row, asc, ge, gt)
    };
    (@go $conn:expr, $lists:expr, $page:expr, $base:ident, $key:expr, $id:expr, $row:ty,
        $dir:ident, $incl:ident, $excl:ident) => {{
        use $crate::pagination::Start;
        let page: &$crate::pagination::PageRequest = $page;
        let conn: &mut DbConnection = $conn;
        // Where the page starts: `Some(None)` from the first row, `Some(Some((key, id,
        // inclusive)))` from that row, `None` past the end; and how many rows to skip from there.
        let (start, skip): (Option<Option<(i64, String, bool)>>, i64) = match &page.start {
            Start::Offset(0) => (Some(None), 0),
            Start::Offset(n) => {
                // The row at a multiple of `ANCHOR_EVERY` comes from the anchor cache (or one
                // index-only scan from the nearest cached anchor below it); the page query then
                // skips fewer than `ANCHOR_EVERY` rows from it.
                let every = $crate::pagination::ANCHOR_EVERY;
                let (m, rest) = (n - n % every, n % every);
                if m == 0 {
                    (Some(None), rest)
                } else {
                    let found = $lists.anchor(conn, &page.list, m, |c, from, skip| {
                        let mut q = $base()
                            .select(($key, $id))
                            .order(($key.$dir(), $id.$dir()))
                            .offset(skip)
                            .limit(1);
                        if let Some((k, i)) = from {
                            q = q
                                .filter($key.$incl(*k))
                                .filter($key.$excl(*k).or($id.$incl(i.clone())));
                        }
                        q.get_result::<(i64, String)>(c).optional()
                    })?;
                    (found.map(|(k, i)| Some((k, i, true))), rest)
                }
            }
            Start::After(at) => (Some(Some((at.key, at.id.clone(), false))), 0),
        };
        let rows = match start {
            None => Vec::new(),
            Some(start) => {
                let mut q = $base()
                    .order(($key.$dir(), $id.$dir()))
                    .limit(page.page_size + 1);
                if skip > 0 {
                    q = q.offset(skip);
                }
                if let Some((k, i, inclusive)) = start {
                    // The redundant bound on the key alone is what the index range uses.
                    q = q.filter($key.$incl(k));
                    q = if inclusive {
                        q.filter($key.$excl(k).or($id.$incl(i)))
                    } else {
                        q.filter($key.$excl(k).or($id.$excl(i)))
                    };
                }
                q.select(<$row>::as_select()).load::<$row>(conn)?
            }
        };
        let total = $lists.total(
            conn,
            &page.list,
            |c, n| {
                $base()
                    .select($key)
                    .limit(n)
                    .load::<i64>(c)
                    .map(|v| v.len() as i64)
            },
            |c| $base().count().get_result(c),
        )?;
        (rows, total)
    }};
}
pub(crate) use keyset_list;

/// Encodes a list of ids for a TEXT column.
pub fn ids_to_json(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a TEXT column of ids; a corrupt value reads as empty rather than failing a list.
pub fn ids_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::cases::CaseRow;
    use super::*;

    fn case(environment: &str) -> CaseRow {
        CaseRow {
            id: "case_0123456789abcdef".into(),
            environment: environment.into(),
            reference: "CF-2026-000001".into(),
            title: "t".into(),
            description: String::new(),
            status: "open".into(),
            priority: "medium".into(),
            assignee: None,
            subject_ids: "[]".into(),
            resolution: None,
            created_at: 0,
            updated_at: 0,
            closed_at: None,
            version: 1,
        }
    }

    #[test]
    fn an_insert_is_in_the_scopes_environment_whatever_the_row_says() {
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let live = Scoped::bound_to(Environment::Live);
        let sandbox = Scoped::bound_to(Environment::Sandbox);
        let row = case("sandbox");
        let (in_live, in_sandbox) = db
            .run_blocking(move |c| {
                live.insert_case(c, &row)?;
                Ok((live.find_case(c, &row.id)?, sandbox.find_case(c, &row.id)?))
            })
            .unwrap();
        assert_eq!(in_live.unwrap().environment, "live");
        assert!(in_sandbox.is_none());
    }

    #[test]
    fn deep_pages_through_anchors_match_a_cursor_walk() {
        use crate::pagination::{Keyset, Lists, PageQuery, PageRequest, Start};
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let live = Scoped::bound_to(Environment::Live);
        let sandbox = Scoped::bound_to(Environment::Sandbox);
        let lists = Lists::new(2, "");
        let filters = super::cases::CaseFilters::default();
        // 2,600 live cases, two per instant (the id breaks ties), and sandbox ones between.
        db.run_blocking(|c| {
            diesel::Connection::transaction(c, |c| {
                for i in 0..2_600i64 {
                    let mut row = case("live");
                    row.id = format!("case_{i:08}");
                    row.reference = format!("CF-2026-{i:06}");
                    row.created_at = i / 2;
                    live.insert_case(c, &row)?;
                    if i % 10 == 0 {
                        row.id = format!("case_s{i:08}");
                        sandbox.insert_case(c, &row)?;
                    }
                }
                Ok(())
            })
        })
        .unwrap();
        let list = crate::pagination::list_name("cases", live.env(), &filters);
        let page = |q: PageQuery| {
            let req = PageRequest::parse(&q, list.clone()).unwrap();
            db.run_blocking(|c| live.list_cases(c, &filters, &req, &lists))
                .unwrap()
        };
        // The cursor walk: every live case once, newest first.
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        let mut n = 1;
        loop {
            let (rows, total) = page(PageQuery {
                page_size: Some("100".into()),
                cursor: cursor.clone(),
                ..Default::default()
            });
            assert_eq!(total, 2_600);
            let more = rows.len() > 100;
            walked.extend(rows.iter().take(100).map(|r| r.id.clone()));
            if !more {
                break;
            }
            n += 1;
            let last = &rows[99];
            cursor = Some(crate::pagination::encode(
                n,
                &Keyset::new(last.created_at, &last.id),
                &list,
            ));
        }
        let expected: Vec<String> = (0..2_600).rev().map(|i| format!("case_{i:08}")).collect();
        assert_eq!(walked, expected);
        // Offset pages, some past an anchor (1,000, 2,000), twice (the second from the cache).
        for _ in 0..2 {
            for (p, size) in [
                (11, 100),
                (8, 99),
                (21, 100),
                (24, 87),
                (26, 100),
                (27, 100),
                (12, 97),
            ] {
                let (rows, _) = page(PageQuery {
                    page: Some(p.to_string()),
                    page_size: Some(size.to_string()),
                    ..Default::default()
                });
                let from = (p - 1) * size;
                let want: Vec<&String> = expected.iter().skip(from).take(size + 1).collect();
                let got: Vec<&String> = rows.iter().map(|r| &r.id).collect();
                assert_eq!(got, want, "page {p} of {size}");
            }
        }
        let req = PageRequest::parse(&PageQuery::default(), list.clone()).unwrap();
        assert_eq!(req.start, Start::Offset(0));
    }
}
