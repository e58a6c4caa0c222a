//! Row structs and queries.
//!
//! Invariant: every query on `/v2` data is environment-bound. What keeps it, exactly:
//! - Only `db/` names a table or runs SQL (the source check
//!   `only_db_names_tables_and_only_the_middleware_binds_an_environment`), and every `/v2`
//!   query here is a method of [`Scoped`] or takes one, which filters every read, update and
//!   delete by its environment and stamps every insert with it (an insert sets the row's
//!   `environment` itself, whatever the caller put there).
//! - The reads and writes of the record families (find, list, insert, conditional save) are
//!   written once, in [`versioned_row!`] and [`listed!`]; the test
//!   `every_record_family_is_environment_bound_and_stores_its_sets_as_text` checks each family
//!   through them. The other queries (a case's history and counter, subject counts, the
//!   screening index, webhook deliveries) write the filter themselves: a new one must too. The
//!   type system does not check those; the HTTP tests that put the same kinds of rows in both
//!   environments do: `environments::records_of_another_environment_are_404_both_ways`
//!   (history, counter, subjects), `screening::screening_and_risk_scoring_see_only_their_own_environment`
//!   and `webhooks::endpoints_and_events_are_isolated_by_environment_and_scope`.
//! - A `Scoped` is made only from a verified principal's environment, by the `/v2`
//!   authentication middleware, and reaches handlers inside [`EnvDb`] (the same source check).
//!
//! The exceptions are deliberate and named: [`credentials`] (the auth server's credential
//! tables, not `/v2` data), [`idempotency`] (keyed by credential, which belongs to one
//! environment) and the startup re-indexing of watchlist entries (`WatchlistRow::stale` and
//! `reindex`, which keep each row in its own environment).

pub mod activity;
pub mod cases;
pub mod credentials;
pub mod idempotency;
pub mod sars;
pub mod subjects;
pub mod watchlist;
pub mod webhooks;

use diesel::QueryResult;
use shared::db::{Db, DbConnection};
use shared::Environment;

use crate::pagination::{Keyset, Lists, PageRequest};

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

/// A `/v2` row that lists read: the list's name, its filters, and each row's place in the
/// list's order. Cases, SARs, watchlist entries and subjects are also [`VersionedRow`]s;
/// transactions and alerts are only listed.
pub trait Listed: Sized + Send + 'static {
    /// The list's name in cursors and cached counts (`pagination::list_name`).
    const LIST: &'static str;

    /// The list's filters, already validated; `()` for a list without any. Their `Debug` is
    /// part of the list's name, so a cursor only works with the filters it was issued for.
    type Filters: std::fmt::Debug + Send + Sync + 'static;

    /// The row's position in the list's order (`(sort key, id)`).
    fn keyset(&self) -> Keyset;

    /// One page of the list in this environment (see [`keyset_list!`]) and its total.
    fn list(
        scoped: &Scoped,
        conn: &mut DbConnection,
        filters: &Self::Filters,
        page: &PageRequest,
        lists: &Lists,
    ) -> QueryResult<(Vec<Self>, i64)>;
}

/// A record whose every write bumps a version (cases, SARs, watchlist entries, subjects): its
/// point read, its insert and its conditional write, all bound to a [`Scoped`] environment.
///
/// There is no unconditional save: a write names the version it read, so that two writers
/// that read the same version cannot both succeed, on either backend. (PostgreSQL at READ
/// COMMITTED re-checks the `WHERE` of an `UPDATE` against the row a concurrent writer
/// committed, so the loser updates nothing instead of overwriting the winner.)
pub trait VersionedRow: Listed {
    /// The record's name in a 404.
    const NAME: &'static str;

    /// The prefix of its ids (`case_…`): an id of another shape is a 404 without a lookup.
    const ID_PREFIX: &'static str;

    fn id(&self) -> &str;

    fn version(&self) -> i64;

    /// When the record was last written (Unix microseconds).
    fn updated_at(&self) -> i64;

    /// The record with this id in this environment (on the concrete backend,
    /// `shared::on_backend!`: the point read of every `GET /v2/…/{id}` and every write).
    fn find(scoped: &Scoped, conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>>;

    /// Inserts the row in this environment, whatever its `environment` field says.
    fn insert(&self, scoped: &Scoped, conn: &mut DbConnection) -> QueryResult<usize>;

    /// Writes the row with its version bumped, if the stored version is still the one read.
    /// `false` (and nothing written, the row unchanged) when another write came first.
    fn save_if_current(&mut self, scoped: &Scoped, conn: &mut DbConnection) -> QueryResult<bool>;
}

/// Implements [`Listed`] and [`VersionedRow`] for a row struct with `id`, `environment`,
/// `created_at`, `updated_at` and `version`, listed newest first (`created_at DESC, id DESC`).
/// `filtered` names the `Scoped` method giving the environment-bound, filtered, boxed query of
/// its list; without it the list has no filters.
macro_rules! versioned_row {
    ($row:ty, $table:ident, name = $name:literal, prefix = $prefix:literal, list = $list:literal) => {
        $crate::db::versioned_row!(@row $row, $table, $name, $prefix);
        $crate::db::listed!($row, $table, $list, (), created_at, desc, |scoped, _f| {
            $table::table
                .filter($table::environment.eq(scoped.env()))
                .into_boxed::<shared::db::Backend>()
        });
    };
    ($row:ty, $table:ident, name = $name:literal, prefix = $prefix:literal, list = $list:literal,
        filters = $filters:ty, filtered = $filtered:ident) => {
        $crate::db::versioned_row!(@row $row, $table, $name, $prefix);
        $crate::db::listed!($row, $table, $list, $filters, created_at, desc, |scoped, f| {
            scoped.$filtered(f)
        });
    };
    (@row $row:ty, $table:ident, $name:literal, $prefix:literal) => {
        impl $crate::db::VersionedRow for $row {
            const NAME: &'static str = $name;
            const ID_PREFIX: &'static str = $prefix;

            fn id(&self) -> &str {
                &self.id
            }

            fn version(&self) -> i64 {
                self.version
            }

            fn updated_at(&self) -> i64 {
                self.updated_at
            }

            fn find(
                scoped: &$crate::db::Scoped,
                conn: &mut shared::db::DbConnection,
                id: &str,
            ) -> diesel::QueryResult<Option<Self>> {
                shared::on_backend!(conn, |c| $table::table
                    .filter($table::environment.eq(scoped.env()))
                    .filter($table::id.eq(id))
                    .select(<$row>::as_select())
                    .get_result(c)
                    .optional())
            }

            fn insert(
                &self,
                scoped: &$crate::db::Scoped,
                conn: &mut shared::db::DbConnection,
            ) -> diesel::QueryResult<usize> {
                let row = Self {
                    environment: scoped.env().to_owned(),
                    ..self.clone()
                };
                diesel::insert_into($table::table).values(&row).execute(conn)
            }

            fn save_if_current(
                &mut self,
                scoped: &$crate::db::Scoped,
                conn: &mut shared::db::DbConnection,
            ) -> diesel::QueryResult<bool> {
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

/// Implements [`Listed`] for a row of `$table` in `($key $dir, id $dir)` order; `$base` builds
/// the environment-bound, filtered, boxed query from the scope and the filters.
macro_rules! listed {
    ($row:ty, $table:ident, $list:literal, $filters:ty, $key:ident, $dir:ident,
        |$scoped:ident, $f:ident| $base:expr) => {
        impl $crate::db::Listed for $row {
            const LIST: &'static str = $list;
            type Filters = $filters;

            fn keyset(&self) -> $crate::pagination::Keyset {
                $crate::pagination::Keyset::new(self.$key, &self.id)
            }

            fn list(
                $scoped: &$crate::db::Scoped,
                conn: &mut shared::db::DbConnection,
                $f: &$filters,
                page: &$crate::pagination::PageRequest,
                lists: &$crate::pagination::Lists,
            ) -> diesel::QueryResult<(Vec<Self>, i64)> {
                let base = || $base;
                Ok($crate::db::keyset_list!(
                    conn,
                    lists,
                    page,
                    base,
                    $table::$key,
                    $table::id,
                    $row,
                    $dir
                ))
            }
        }
    };
}
pub(crate) use listed;

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
        let conn: &mut shared::db::DbConnection = $conn;
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
    use diesel::prelude::*;

    fn case(environment: &str) -> CaseRow {
        CaseRow {
            id: "case_0123456789abcdef".into(),
            environment: environment.into(),
            reference: "CF-2026-000001".into(),
            title: "t".into(),
            description: String::new(),
            status: crate::domain::values::CaseStatus::Open,
            priority: crate::domain::values::CasePriority::Medium,
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
                row.insert(&live, c)?;
                Ok((
                    CaseRow::find(&live, c, &row.id)?,
                    CaseRow::find(&sandbox, c, &row.id)?,
                ))
            })
            .unwrap();
        assert_eq!(in_live.unwrap().environment, "live");
        assert!(in_sandbox.is_none());
    }

    /// A record of each family, written in sandbox: the live scope cannot find, list, change
    /// or delete it, through the one generic path every service uses.
    fn environment_bound<R: VersionedRow<Filters = F> + Clone, F: Default>(db: &Db, row: R) -> R {
        let live = Scoped::bound_to(Environment::Live);
        let sandbox = Scoped::bound_to(Environment::Sandbox);
        let lists = Lists::new(2, "");
        let page = |scoped: &Scoped| {
            let name = crate::pagination::list_name(R::LIST, scoped.env(), ());
            PageRequest::parse(&Default::default(), name).unwrap()
        };
        let id = row.id().to_owned();
        db.run_blocking(move |c| {
            let mut row = row.clone();
            row.insert(&sandbox, c)?;
            assert!(R::find(&live, c, &id)?.is_none(), "{}: found", R::NAME);
            let (rows, total) = R::list(&live, c, &F::default(), &page(&live), &lists)?;
            assert!(rows.is_empty() && total == 0, "{}: listed", R::NAME);
            assert!(!row.save_if_current(&live, c)?, "{}: written", R::NAME);
            // (Sandbox has seeded subjects and watchlist entries besides.)
            let (rows, _) = R::list(&sandbox, c, &F::default(), &page(&sandbox), &lists)?;
            assert!(rows.iter().any(|r| r.id() == id), "{}: not listed", R::NAME);
            Ok(R::find(&sandbox, c, &id)?.unwrap())
        })
        .unwrap()
    }

    #[test]
    fn every_record_family_is_environment_bound_and_stores_its_sets_as_text() {
        use crate::domain::risk::RiskLevel;
        use crate::domain::values::{CasePriority, CaseStatus, EntryType, SarStatus};
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let mut row = case("live");
        row.status = CaseStatus::InReview;
        row.priority = CasePriority::Critical;
        let read = environment_bound(&db, row.clone());
        assert_eq!(
            (read.status, read.priority, read.environment.as_str()),
            (CaseStatus::InReview, CasePriority::Critical, "sandbox")
        );
        let sar = environment_bound(
            &db,
            super::sars::SarRow {
                id: "sar_0123456789abcdef".into(),
                environment: "live".into(),
                case_id: row.id.clone(),
                status: SarStatus::Submitted,
                narrative: String::new(),
                subject_ids: "[]".into(),
                amount: crate::domain::amount("1").unwrap(),
                currency: crate::domain::currency("EUR").unwrap(),
                created_at: 0,
                updated_at: 0,
                submitted_at: None,
                version: 1,
            },
        );
        assert_eq!(sar.status, SarStatus::Submitted);
        let subject = environment_bound(
            &db,
            super::subjects::SubjectRow {
                id: "subj_0123456789abcdef".into(),
                environment: "live".into(),
                subject_type: EntryType::Entity,
                name: "n".into(),
                country: None,
                date_of_birth: None,
                risk_score: 80,
                risk_level: RiskLevel::High,
                created_at: 0,
                updated_at: 0,
                version: 1,
            },
        );
        assert_eq!(
            (subject.subject_type, subject.risk_level),
            (EntryType::Entity, RiskLevel::High)
        );
        let entry = environment_bound(
            &db,
            super::watchlist::WatchlistRow {
                id: "wl_0123456789abcdef".into(),
                environment: "live".into(),
                name: "n".into(),
                aliases: "[]".into(),
                entry_type: EntryType::Person,
                country: None,
                date_of_birth: None,
                list_source: "s".into(),
                reason: String::new(),
                created_at: 0,
                updated_at: 0,
                version: 1,
                normalized_names: "[]".into(),
                index_version: 0,
            },
        );
        assert_eq!(entry.entry_type, EntryType::Person);
        // The stored values are the API's strings, and a value outside the set is refused on
        // read rather than shown.
        let sandbox = Scoped::bound_to(Environment::Sandbox);
        let (stored, refused) = db
            .run_blocking(move |c| {
                use shared::db::schema::cases;
                let stored: (String, String) = cases::table
                    .filter(cases::id.eq(&row.id))
                    .select((cases::status, cases::priority))
                    .get_result(c)?;
                diesel::update(cases::table.filter(cases::id.eq(&row.id)))
                    .set(cases::status.eq("pending"))
                    .execute(c)?;
                Ok((stored, CaseRow::find(&sandbox, c, &row.id).is_err()))
            })
            .unwrap();
        assert_eq!(stored, ("in_review".to_owned(), "critical".to_owned()));
        assert!(refused);
    }

    #[test]
    fn seeded_activity_reads_through_its_sets() {
        use super::activity::{AlertFilters, AlertRow, TransactionFilters, TransactionRow};
        use crate::domain::values::{AlertStatus, Direction};
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let sandbox = Scoped::bound_to(Environment::Sandbox);
        let lists = Lists::new(2, "");
        let filters = AlertFilters {
            status: Some(AlertStatus::Closed),
            ..Default::default()
        };
        let (alerts, txns) = db
            .run_blocking(move |c| {
                let page = |list: &str, f: &dyn std::fmt::Debug| {
                    let name = crate::pagination::list_name(list, "sandbox", f);
                    PageRequest::parse(&Default::default(), name).unwrap()
                };
                let alerts = AlertRow::list(
                    &sandbox,
                    c,
                    &filters,
                    &page(AlertRow::LIST, &filters),
                    &lists,
                )?;
                let f = TransactionFilters::default();
                let txns =
                    TransactionRow::list(&sandbox, c, &f, &page(TransactionRow::LIST, &f), &lists)?;
                Ok((alerts, txns))
            })
            .unwrap();
        assert_eq!(alerts.1, 1);
        assert!(alerts.0.iter().all(|a| a.status == AlertStatus::Closed));
        assert_eq!(txns.1, 10);
        assert!(txns.0.iter().any(|t| t.direction == Direction::Outbound));
        assert!(txns.0.iter().any(|t| t.direction == Direction::Inbound));
    }

    /// What keeps `/v2` queries environment-bound outside the type system: no module outside
    /// `db/` names a table or runs SQL, and only the `/v2` authentication middleware (and
    /// this module's tests) builds a `Scoped`.
    #[test]
    fn only_db_names_tables_and_only_the_middleware_binds_an_environment() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        assert!(all.len() > 30, "{} files", all.len());
        for path in all {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            if !rel.starts_with("db/") {
                for sql in [
                    "db::schema",
                    "sql_query",
                    "diesel::insert_into",
                    "diesel::update",
                    "diesel::delete",
                ] {
                    assert!(!text.contains(sql), "{rel} uses {sql}: queries live in db/");
                }
            }
            if rel != "auth/mod.rs" && rel != "db/mod.rs" {
                assert!(!text.contains("bound_to("), "{rel} builds a Scoped");
            }
        }
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
                    row.insert(&live, c)?;
                    if i % 10 == 0 {
                        row.id = format!("case_s{i:08}");
                        row.insert(&sandbox, c)?;
                    }
                }
                Ok(())
            })
        })
        .unwrap();
        let list = crate::pagination::list_name(CaseRow::LIST, live.env(), &filters);
        let page = |q: PageQuery| {
            let req = PageRequest::parse(&q, list.clone()).unwrap();
            db.run_blocking(|c| CaseRow::list(&live, c, &filters, &req, &lists))
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
                100,
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

    /// `?status=…&priority=…` is one index range (migration 2026-12-03-000080): SQLite's planner
    /// reads it from the covering index instead of checking the priority of every row of the
    /// status index (a pair no row matches scanned the whole status: 112–176 ms a request at 1M
    /// cases); on PostgreSQL the index exists (which one its planner takes follows the data).
    #[test]
    fn a_status_and_priority_filter_is_one_index_range() {
        #[derive(diesel::QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let found = db
            .run_blocking(|c| {
                let sql = match c {
                    DbConnection::Sqlite(_) => {
                        "EXPLAIN QUERY PLAN SELECT created_at, id FROM cases \
                         WHERE environment = 'sandbox' AND status = 'open' AND priority = 'critical' \
                         ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET 40"
                    }
                    DbConnection::Pg(_) => {
                        "SELECT indexname AS detail FROM pg_indexes WHERE tablename = 'cases'"
                    }
                };
                diesel::sql_query(sql).load::<Line>(c)
            })
            .unwrap();
        assert!(
            found.iter().any(|l| l
                .detail
                .contains("cases_environment_status_priority_created_id")),
            "{:?}",
            found.iter().map(|l| &l.detail).collect::<Vec<_>>()
        );
    }
}

/// The webhook outbox is written in the transaction of the change (here because only this file
/// may bind an environment outside the middleware).
#[cfg(test)]
mod outbox_tests {
    use crate::db::cases::CaseRow;
    use crate::db::EnvDb;
    use crate::db::Scoped;
    use crate::domain::new_id;
    use crate::domain::values::CasePriority;
    use crate::domain::values::{CaseStatus, EventType};
    use crate::error::Error;
    use crate::service::records;
    use diesel::prelude::*;
    use shared::db::schema::webhook_events;
    use shared::db::Db;
    use shared::Environment;

    fn case(now: i64) -> CaseRow {
        CaseRow {
            id: new_id("case"),
            environment: String::new(),
            reference: format!("CF-2026-{:06}", now % 1_000_000),
            title: "t".into(),
            description: String::new(),
            status: CaseStatus::Open,
            priority: CasePriority::Medium,
            assignee: None,
            subject_ids: "[]".into(),
            resolution: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            version: 1,
        }
    }

    fn outbox(db: &Db) -> Vec<(String, EventType)> {
        db.run_blocking(|c| {
            webhook_events::table
                .select((webhook_events::environment, webhook_events::event_type))
                .load(c)
        })
        .unwrap()
    }

    /// The outbox row is part of the change's transaction: a create or change that fails after
    /// its row was written leaves no event; one that commits leaves exactly one.
    #[actix_web::test]
    async fn a_rolled_back_write_leaves_no_event_and_a_committed_one_leaves_one() {
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 2).unwrap();
        let repo = EnvDb::new(db.clone(), Scoped::bound_to(Environment::Live));
        let failed = records::create(
            &repo,
            None,
            1,
            |_, _| Ok(case(1)),
            |_, _, _| Err(Error::Conflict("after the insert".into())),
        )
        .await;
        assert!(failed.is_err());
        assert!(outbox(&db).is_empty());

        let created = records::create(&repo, None, 2, |_, _| Ok(case(2)), |_, _, _| Ok(()))
            .await
            .unwrap();
        let id = match created {
            crate::service::idempotency::Created::New(v) => v.value.id.clone(),
            _ => unreachable!(),
        };
        assert_eq!(outbox(&db), [("live".to_owned(), EventType::CaseCreated)]);

        let refused = records::update(
            &repo,
            &id,
            Default::default(),
            3,
            |row: &mut CaseRow, _, _, _| {
                row.status = CaseStatus::Closed;
                Ok(Some(()))
            },
            |_, _, (), _| Err(Error::Conflict("after the save".into())),
        )
        .await;
        assert!(refused.is_err());
        assert_eq!(outbox(&db).len(), 1);
        records::update(
            &repo,
            &id,
            Default::default(),
            4,
            |row: &mut CaseRow, _, _, _| {
                row.status = CaseStatus::Closed;
                Ok(Some(()))
            },
            |_, _, (), _| Ok(()),
        )
        .await
        .unwrap();
        let events: Vec<EventType> = outbox(&db).into_iter().map(|(_, t)| t).collect();
        assert_eq!(events, [EventType::CaseCreated, EventType::CaseClosed]);
    }

    /// The worker's bookkeeping: an event is fanned out once; a failure marks the endpoint
    /// failing, a success clears it; failing since before the bound disables it (with its
    /// reason); retention removes finished deliveries and their events, never pending ones.
    #[test]
    fn fan_out_attempts_disable_and_prune_keep_their_rules() {
        use crate::db::webhooks::{
            fan_out, prune, record_attempt, AttemptRecord, WebhookDeliveryRow, WebhookEndpointRow,
            WebhookEventRow,
        };
        use crate::db::VersionedRow;
        use crate::domain::values::DeliveryStatus;
        use shared::db::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
        use shared::db::DbConnection;
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let live = Scoped::bound_to(Environment::Live);
        let sandbox = Scoped::bound_to(Environment::Sandbox);
        let event = |id: &str, at: i64| WebhookEventRow {
            id: id.into(),
            environment: String::new(),
            event_type: EventType::CaseCreated,
            payload: "{}".into(),
            created_at: at,
            dispatched_at: None,
        };
        let attempt = |id: &str, at: i64, success: bool, disable_before: i64| AttemptRecord {
            delivery_id: id.to_owned(),
            endpoint_id: "whe_1".into(),
            at,
            success,
            response_status: Some(if success { 200 } else { 500 }),
            error: None,
            duration_ms: 1,
            response_excerpt: None,
            status: if success {
                DeliveryStatus::Succeeded
            } else {
                DeliveryStatus::Pending
            },
            next_attempt_at: Some(at),
            log_entry: serde_json::json!({"at": "x"}),
            disable_if_failing_since: disable_before,
            disable_reason: "failed without a success for 5 days".into(),
        };
        db.run_blocking(|c| {
            WebhookEndpointRow {
                id: "whe_1".into(),
                environment: String::new(),
                url: "https://hooks.example/x".into(),
                description: String::new(),
                events: "[\"case.created\"]".into(),
                enabled: true,
                disabled_reason: None,
                secret_sealed: "wh1:x".into(),
                previous_secret_sealed: None,
                previous_secret_expires_at: None,
                failing_since: None,
                last_success_at: None,
                created_at: 10,
                updated_at: 10,
                version: 1,
                owner_id: None,
            }
            .insert(&live, c)?;
            // Before the endpoint existed, in another environment, and one for it.
            live.insert_webhook_event(c, &event("msg_old", 5))?;
            sandbox.insert_webhook_event(c, &event("msg_sandbox", 20))?;
            live.insert_webhook_event(c, &event("msg_1", 20))?;
            assert_eq!(fan_out(c, 30, 10)?, 3);
            assert_eq!(fan_out(c, 31, 10)?, 0);
            let d: Vec<WebhookDeliveryRow> = webhook_deliveries::table
                .select(WebhookDeliveryRow::as_select())
                .load(c)?;
            assert_eq!(d.len(), 1);
            assert_eq!(
                (d[0].event_id.as_str(), d[0].environment.as_str()),
                ("msg_1", "live")
            );
            let id = d[0].id.clone();
            let endpoint = |c: &mut DbConnection| {
                webhook_endpoints::table
                    .select((
                        webhook_endpoints::enabled,
                        webhook_endpoints::failing_since,
                        webhook_endpoints::disabled_reason,
                    ))
                    .get_result::<(bool, Option<i64>, Option<String>)>(c)
            };
            assert!(!record_attempt(c, &attempt(&id, 40, false, 0))?);
            assert_eq!(endpoint(c)?, (true, Some(40), None));
            assert!(!record_attempt(c, &attempt(&id, 50, true, 0))?);
            assert_eq!(endpoint(c)?, (true, None, None));
            assert!(!record_attempt(c, &attempt(&id, 60, false, 59))?);
            // Failing since 60; an attempt whose bound has passed it disables the endpoint.
            assert!(record_attempt(c, &attempt(&id, 70, false, 60))?);
            let (enabled, _, reason) = endpoint(c)?;
            assert!(!enabled && reason.unwrap().contains("5 days"));
            let (attempts, log): (i32, String) = webhook_deliveries::table
                .select((
                    webhook_deliveries::attempts,
                    webhook_deliveries::attempt_log,
                ))
                .get_result(c)?;
            assert_eq!(attempts, 4);
            assert_eq!(
                serde_json::from_str::<Vec<serde_json::Value>>(&log)
                    .unwrap()
                    .len(),
                4
            );
            // Pending: kept, with its event. Finished: pruned with it.
            assert_eq!(prune(c, 1_000)?, (2, 0));
            record_attempt(c, &attempt(&id, 80, true, 0))?;
            assert_eq!(prune(c, 1_000)?, (1, 1));
            let left: i64 = webhook_events::table.count().get_result(c)?;
            assert_eq!(left, 0);
            Ok(())
        })
        .unwrap();
    }
}
