//! The one database both services open: SQLite (embedded default) or PostgreSQL (production),
//! behind a single connection type, an r2d2 pool, embedded migrations, and [`Db::run`], which
//! runs diesel's blocking calls on actix's blocking thread pool.
//!
//! **Point reads never bind a `LIMIT`.** A read by primary key or unique column uses
//! `get_result` (with `.optional()`), not diesel's `first`: `first` binds its `LIMIT 1` as a
//! parameter, and the bundled SQLite (compiled with `SQLITE_ENABLE_STAT4`) marks a statement
//! whose `LIMIT` is a parameter as plan-dependent on it, so every re-bind expires diesel's cached
//! statement and the next step compiles the SQL again — measured at ~160,000 instructions, more
//! than the whole rest of an authenticated `GET /v2/cases/{id}` (docs/PERFORMANCE.md). Clippy
//! refuses `first` (`clippy.toml`, `disallowed-methods`); a query that really wants the top row of
//! an ordering allows it where it is written, off the hot paths.

pub mod schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::Semaphore;

/// Migrations compiled into both binaries; the same portable SQL serves both backends.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Runs `$body` with `$c` bound to the concrete connection of whichever backend `$conn` is.
///
/// A query run through [`DbConnection`] (diesel's `MultiConnection`) loses its static `QueryId`,
/// so diesel renders its SQL text on every call just to find the cached statement — measured at
/// ~50,000 instructions for a 14-column select by id, a third of an authenticated
/// `GET /v2/cases/{id}`. Written inside `on_backend!`, the same query is compiled once per
/// backend and found in the statement cache by its type. Use it for the hot paths' point reads;
/// elsewhere the plain form is simpler.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// One connection type for both backends. Queries written against it run on either.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The backend type of [`DbConnection`], for boxed queries.
pub type Backend = <DbConnection as Connection>::Backend;

/// Which backend a `DATABASE_URL` names. Its `Debug` is [`DatabaseTarget::describe`], so that
/// printing it (or the pool that holds it) never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres(String),
    Sqlite(PathBuf),
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A `DATABASE_URL` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL is empty")]
    Empty,
    #[error(
        "DATABASE_URL has an unsupported scheme `{0}` (use postgres://, sqlite:// or a file path)"
    )]
    Scheme(String),
}

impl DatabaseTarget {
    /// `postgres://…`/`postgresql://…` → PostgreSQL; `sqlite://path`, `sqlite:path` or a bare
    /// path → SQLite. Any other `scheme://` is refused instead of becoming a file name.
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(DatabaseUrlError::Empty);
            }
            return Ok(DatabaseTarget::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(DatabaseUrlError::Scheme(scheme.chars().take(20).collect()));
        }
        Ok(DatabaseTarget::Sqlite(PathBuf::from(url)))
    }

    /// Removes the URL's password — from the userinfo or a `password=` query parameter — and,
    /// since libpq may split a password that contains `/` and quote a piece of it, every piece
    /// of it, from a message about this database.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for password in self.passwords() {
            out = out.replace(password, "***");
            for piece in password
                .split(['/', '?', '#', '@', ':', '&', '='])
                .filter(|p| p.len() >= 3)
            {
                out = out.replace(piece, "***");
            }
        }
        out
    }

    /// The secret parts of a PostgreSQL URL, as written in it.
    fn passwords(&self) -> Vec<&str> {
        let DatabaseTarget::Postgres(url) = self else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        if let Some((userinfo, _)) = rest.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                found.push(password);
            }
        }
        if let Some((_, query)) = url.split_once('?') {
            found.extend(
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .filter(|(k, _)| k.eq_ignore_ascii_case("password"))
                    .map(|(_, v)| v),
            );
        }
        found.retain(|p| !p.is_empty());
        found
    }

    /// A description safe to log: never the password of a PostgreSQL URL.
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(p) => format!("SQLite at {}", p.display()),
            DatabaseTarget::Postgres(url) => {
                // The last `@` ends the userinfo (a password may hold an unescaped `@`), and
                // the query string may carry `password=`: neither is shown.
                let without_query = url.split(['?', '#']).next().unwrap_or("");
                let host = without_query
                    .rsplit_once('@')
                    .map(|(_, rest)| rest)
                    .or_else(|| without_query.split_once("://").map(|(_, rest)| rest))
                    .unwrap_or("");
                format!("PostgreSQL at {host}")
            }
        }
    }
}

/// r2d2 manager that opens the backend the URL names (never guessing by trial, which would
/// turn an unreachable PostgreSQL URL into a SQLite file) and configures SQLite connections.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DatabaseTarget,
}

/// SQLite waits this long for a lock before reporting busy; [`Db::run`] then retries.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Up to this much of the SQLite file is read through a memory map instead of `pread` into each
/// connection's own 2 MiB page cache: a page the kernel already holds is read in place, with no
/// system call and no copy, and every connection reads the same pages of the kernel's page cache
/// (RSS still counts a mapped page once per connection's map; docs/PERFORMANCE.md). Address
/// space, not memory: 1 GiB per connection on a 64-bit host. Writes still go through the WAL as
/// before. A list of 20 rows reads ~20 table pages, so lists gain the most. What a map changes
/// for operators: an I/O error on the file, or the file truncated or overwritten in place while
/// a service runs, ends the process (SIGBUS) instead of failing a query — restore a backup only
/// with the services stopped (README, "Operations").
pub const SQLITE_MMAP_BYTES: u64 = 1 << 30;

/// A connection as the pool holds it: the connection, and what the pool needs to know about it
/// without asking the server.
///
/// r2d2's default check-out test runs `SELECT 1` before every checkout — a second round trip
/// per request on PostgreSQL, measured at a quarter of the throughput of `GET /v2/cases/{id}`
/// (docs/PERFORMANCE.md). A connection that completed a query less than [`FRESH`] ago is handed
/// out without it; one idle for longer (where a server restart, `pg_terminate_backend` or a
/// proxy's idle timeout would have closed it) is still pinged. A query that finds the
/// connection closed marks it, and the pool drops it instead of handing it out again.
pub struct PooledConnection {
    conn: DbConnection,
    last_ok: Instant,
    closed: bool,
}

/// How recently a connection must have completed a query to be handed out without a ping.
const FRESH: Duration = Duration::from_secs(1);

impl PooledConnection {
    /// Records the outcome of a query run on this connection.
    fn saw(&mut self, error: Option<&DieselError>) {
        match error {
            // Lost: the pool drops it rather than hand it out again.
            Some(e) if is_connection_lost(e) => self.closed = true,
            // Any other outcome (rows, no row, a constraint the server reported) was answered.
            _ => self.last_ok = Instant::now(),
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = PooledConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PooledConnection, r2d2::Error> {
        self.open().map(|conn| PooledConnection {
            conn,
            last_ok: Instant::now(),
            closed: false,
        })
    }

    fn is_valid(&self, pooled: &mut PooledConnection) -> Result<(), r2d2::Error> {
        if pooled.closed {
            return Err(r2d2::Error::ConnectionError(
                ConnectionError::BadConnection("closed by the server".into()),
            ));
        }
        if pooled.last_ok.elapsed() < FRESH {
            return Ok(());
        }
        pooled.conn.ping().map_err(r2d2::Error::QueryError)?;
        pooled.last_ok = Instant::now();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut PooledConnection) -> bool {
        std::thread::panicking() || pooled.closed || pooled.conn.is_broken()
    }
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.target {
            // libpq's message may quote parts of the URL: it is redacted here, at the source,
            // so that neither r2d2's error handler nor a pool timeout can carry the password.
            DatabaseTarget::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(|e| {
                    r2d2::Error::ConnectionError(ConnectionError::BadConnection(
                        self.target.redact(&e.to_string()),
                    ))
                }),
            DatabaseTarget::Sqlite(path) => {
                create_private(path).map_err(|e| {
                    r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(format!(
                        "cannot create {}: {e}",
                        path.display()
                    )))
                })?;
                let path = path.to_string_lossy();
                let mut conn =
                    SqliteConnection::establish(&path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     PRAGMA foreign_keys = ON; \
                     PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES};"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Creates the SQLite file readable and writable by its owner only (0600) before SQLite opens
/// it: it holds credential hashes and sealed signing keys. SQLite gives its `-wal` and `-shm`
/// files the mode of the database file, so they are private too. An existing file is left as
/// the operator set it.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// r2d2 logs every failed connection attempt itself; its default handler prints the error as
/// is. This one logs it through [`DatabaseTarget::redact`] (a second guard behind the redaction
/// in [`ConnectionManager::connect`]), on one line, and stays silent while [`Db::connect`]
/// builds the pool: a start that fails says so once, in its own error.
#[derive(Debug)]
struct RedactingErrorHandler {
    target: DatabaseTarget,
    quiet: Arc<std::sync::atomic::AtomicBool>,
}

impl r2d2::HandleError<r2d2::Error> for RedactingErrorHandler {
    fn handle_error(&self, error: r2d2::Error) {
        if self.quiet.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        tracing::error!(
            "database connection failed: {}",
            one_line(&self.target.redact(&error.to_string()))
        );
    }
}

/// libpq's messages span lines (`…failed: Connection refused\n\tIs the server running…`):
/// joined into one, so that a failed start is one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// How long the first connection of a start may take before the start gives up.
const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one PostgreSQL connection before the pool is built, within
/// [`CONNECT_PROBE_TIMEOUT`]: an unreachable or refusing server is then one clear line at once,
/// instead of r2d2 retrying (and logging) for its whole build timeout. A server that does not
/// answer at all (a dropped SYN) leaves the probe's thread waiting on libpq; the start fails
/// regardless.
fn probe(manager: &ConnectionManager) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let m = manager.clone();
    std::thread::spawn(move || {
        let _ = tx.send(m.open().map(drop));
    });
    match rx.recv_timeout(CONNECT_PROBE_TIMEOUT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(one_line(&manager.target.redact(&e.to_string()))),
        Err(_) => Err(format!(
            "no answer within {} s",
            CONNECT_PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// Errors of the database layer. Their `Display` is for logs only; handlers map them to a
/// generic 500/503 so that no SQL or path ever reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database query: {0}")]
    Query(#[from] DieselError),
    #[error("blocking task was cancelled")]
    Canceled,
    #[error("database pool: no connection within {0:?}")]
    Busy(Duration),
}

impl DbError {
    /// Whether the database is unreachable or saturated (503, retry) rather than the request
    /// having hit a fault (500).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Pool(_) | DbError::Busy(_))
            || matches!(self, DbError::Query(e) if is_connection_lost(e))
    }
}

/// A cloneable handle to the pool.
///
/// [`Db::run`] and [`Db::transaction`] first wait in a fair (FIFO) line for one of
/// `max_size + 2` permits, and only then take a blocking thread and a connection; the permit is
/// given back on the blocking thread as soon as the connection is back in the pool. r2d2's own
/// checkout is not fair: a connection put back wakes one waiting thread, but a thread that just
/// finished a task and starts the next takes it first, so under saturation some waiters lose
/// again and again — on PostgreSQL (a connection held for a round trip) a p99 of 40–340 ms beside
/// a p90 of 8 ms, worse with a bigger pool (docs/PERFORMANCE.md). With the line, at most two tasks
/// can ever wait inside r2d2 (they keep a connection from idling between two uses, which with
/// exactly `max_size` permits cost a fifth of the throughput), and everyone else waits in turn.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    target: DatabaseTarget,
    permits: Arc<Semaphore>,
}

/// How long a request waits in line for a connection before it is answered 503.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a transaction that hit a lock or a serialization failure is retried.
const MAX_RETRIES: u32 = 8;

impl Db {
    /// Opens a pool for `url`, checks that one connection works, switches SQLite to WAL, and
    /// runs pending migrations. Fails with a message naming what is wrong.
    pub fn connect(url: &str, max_size: u32) -> Result<Db, String> {
        let target = DatabaseTarget::parse(url).map_err(|e| e.to_string())?;
        if let DatabaseTarget::Sqlite(path) = &target {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(format!(
                        "cannot open {}: directory {} does not exist",
                        target.describe(),
                        dir.display()
                    ));
                }
            }
        }
        let manager = ConnectionManager {
            target: target.clone(),
        };
        if let DatabaseTarget::Postgres(_) = &target {
            probe(&manager).map_err(|e| format!("cannot connect to {}: {e}", target.describe()))?;
        }
        let quiet = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .error_handler(Box::new(RedactingErrorHandler {
                target: target.clone(),
                quiet: quiet.clone(),
            }))
            .build(manager)
            .map_err(|e| {
                one_line(&target.redact(&format!("cannot connect to {}: {e}", target.describe())))
            })?;
        let db = Db {
            pool,
            target,
            permits: Arc::new(Semaphore::new(max_size as usize + 2)),
        };
        db.prepare().map_err(|e| {
            one_line(
                &db.target
                    .redact(&format!("cannot prepare {}: {e}", db.target.describe())),
            )
        })?;
        // Started: from now on a lost connection is worth a log line.
        quiet.store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(db)
    }

    fn prepare(&self) -> Result<(), String> {
        let mut pooled = self.pool.get().map_err(|e| e.to_string())?;
        match &mut pooled.conn {
            DbConnection::Sqlite(c) => {
                // WAL lets readers run beside the one writer; it persists in the file.
                c.batch_execute("PRAGMA journal_mode = WAL;")
                    .map_err(|e| e.to_string())?;
                // Two processes may migrate the same file at once: retry until nothing is pending.
                let mut last = String::new();
                for _ in 0..10 {
                    match c.run_pending_migrations(MIGRATIONS) {
                        Ok(_) => return Ok(()),
                        Err(e) => last = e.to_string(),
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                if c.has_pending_migration(MIGRATIONS)
                    .map_err(|e| e.to_string())?
                {
                    return Err(format!("migrations failed: {last}"));
                }
                Ok(())
            }
            DbConnection::Pg(c) => {
                // An advisory lock serialises migrations across processes.
                c.batch_execute("SELECT pg_advisory_lock(72435991)")
                    .map_err(|e| e.to_string())?;
                let result = c
                    .run_pending_migrations(MIGRATIONS)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let _ = c.batch_execute("SELECT pg_advisory_unlock(72435991)");
                result.map_err(|e| format!("migrations failed: {e}"))
            }
        }
    }

    /// (open connections, idle connections) of the pool.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    pub fn target(&self) -> &DatabaseTarget {
        &self.target
    }

    /// Runs `f` with a pooled connection on the blocking pool, retrying when SQLite reports a
    /// lock or PostgreSQL a serialization failure, so that concurrent writers never surface as
    /// `database is locked`. `f` must therefore be safe to run more than once (a transaction).
    pub async fn run<F, T>(&self, f: F) -> Result<T, DbError>
    where
        F: Fn(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        // The blocking thread logs in the caller's span (its request id).
        let span = tracing::Span::current();
        self.in_turn(move |pool| span.in_scope(|| run_with_retry(pool, f)))
            .await?
    }

    /// The same as [`Db::run`], on the calling thread (CLI and startup).
    pub fn run_blocking<F, T>(&self, f: F) -> Result<T, DbError>
    where
        F: Fn(&mut DbConnection) -> Result<T, DieselError>,
    {
        run_with_retry(&self.pool, f)
    }

    /// Whether a connection can be had and answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.run(|c| c.batch_execute("SELECT 1")).await.is_ok()
    }

    /// Runs `f` in one transaction on the blocking pool. Any error from `f` — the database's or
    /// the caller's own — rolls the whole transaction back and comes out as it is; a lock or
    /// serialization failure, wherever in `f` it surfaced, reruns the whole transaction as
    /// [`Db::run`] does. `f` must therefore be safe to run more than once.
    pub async fn transaction<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: Fn(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: TransactionError + Send + 'static,
    {
        self.in_turn(move |pool| transaction_with_retry(pool, f))
            .await
            .map_err(E::from)?
    }

    /// Runs `job` on the blocking pool once it is this caller's turn in the fair line: a permit
    /// (tokio's semaphore hands a released permit straight to the longest waiter, so nobody can
    /// take it out of turn), given back on the blocking thread as soon as `job` has returned
    /// its connection to the pool.
    async fn in_turn<T, J>(&self, job: J) -> Result<T, DbError>
    where
        J: FnOnce(&Pool) -> T + Send + 'static,
        T: Send + 'static,
    {
        let turn = match tokio::time::timeout(
            CHECKOUT_TIMEOUT,
            self.permits.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(DbError::Canceled),
            Err(_) => return Err(DbError::Busy(CHECKOUT_TIMEOUT)),
        };
        let pool = self.pool.clone();
        web::block(move || {
            let result = job(&pool);
            drop(turn); // the connection is back in the pool: the next in line may go
            result
        })
        .await
        .map_err(|_| DbError::Canceled)
    }
}

/// The error type of a [`Db::transaction`]: a database error (diesel's, or the pool's) or the
/// caller's own. The transaction needs to see the database error inside to retry a lock or
/// serialization failure.
pub trait TransactionError: From<DieselError> + From<DbError> {
    /// The query error this is, if it is one.
    fn as_query_error(&self) -> Option<&DieselError>;
}

impl TransactionError for DbError {
    fn as_query_error(&self) -> Option<&DieselError> {
        match self {
            DbError::Query(e) => Some(e),
            _ => None,
        }
    }
}

fn transaction_with_retry<F, T, E>(pool: &Pool, f: F) -> Result<T, E>
where
    F: Fn(&mut DbConnection) -> Result<T, E>,
    E: TransactionError,
{
    let mut pooled = pool.get().map_err(DbError::from)?;
    let mut attempt = 0;
    loop {
        let result = pooled.conn.transaction(|c| f(c));
        pooled.saw(result.as_ref().err().and_then(E::as_query_error));
        match result {
            Err(e) if attempt < MAX_RETRIES && e.as_query_error().is_some_and(is_retryable) => {
                attempt += 1;
                let jitter = rand::random::<u64>() % 20;
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt) + jitter));
            }
            other => return other,
        }
    }
}

fn run_with_retry<F, T>(pool: &Pool, f: F) -> Result<T, DbError>
where
    F: Fn(&mut DbConnection) -> Result<T, DieselError>,
{
    let mut pooled = pool.get()?;
    let mut attempt = 0;
    loop {
        let result = f(&mut pooled.conn);
        pooled.saw(result.as_ref().err());
        match result {
            Err(e) if attempt < MAX_RETRIES && is_retryable(&e) => {
                attempt += 1;
                // Jittered backoff so that retrying writers do not collide again in lock step.
                let jitter = rand::random::<u64>() % 20;
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt) + jitter));
            }
            other => return other.map_err(DbError::from),
        }
    }
}

/// The connection is gone: the server closed it, or libpq refused to send on it.
fn is_connection_lost(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    )
}

fn is_retryable(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked")
                || m.contains("database is busy")
                || m.contains("deadlock detected")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_they_name() {
        assert_eq!(
            DatabaseTarget::parse("sqlite://caseforge.db").unwrap(),
            DatabaseTarget::Sqlite("caseforge.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseTarget::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("data/cf.db").unwrap(),
            DatabaseTarget::Sqlite("data/cf.db".into())
        );
        assert!(matches!(
            DatabaseTarget::parse("postgres://u:p@h/db").unwrap(),
            DatabaseTarget::Postgres(_)
        ));
        assert_eq!(
            DatabaseTarget::parse("mysql://h/db"),
            Err(DatabaseUrlError::Scheme("mysql".into()))
        );
        assert_eq!(DatabaseTarget::parse("  "), Err(DatabaseUrlError::Empty));
    }

    #[test]
    fn errors_are_redacted_even_when_the_password_holds_a_slash() {
        let t = DatabaseTarget::parse("postgres://cf:abc/defghi@db:5432/cf").unwrap();
        let msg = r#"invalid integer value "abc" for connection option "port"; defghi@db"#;
        let red = t.redact(msg);
        assert!(!red.contains("abc") && !red.contains("defghi"), "{red}");
        let plain = DatabaseTarget::parse("sqlite://x.db").unwrap();
        assert_eq!(plain.redact("abc"), "abc");
    }

    #[test]
    fn description_never_contains_the_password() {
        let t = DatabaseTarget::parse("postgres://user:s3cret@db.internal:5432/cf").unwrap();
        assert!(!t.describe().contains("s3cret"));
        assert!(t.describe().contains("db.internal"));
        assert!(!format!("{t:?}").contains("s3cret"));
        let at = DatabaseTarget::parse("postgres://user:s3c@ret@db.internal/cf").unwrap();
        assert_eq!(at.describe(), "PostgreSQL at db.internal/cf");
        let query = DatabaseTarget::parse("postgres://db.internal/cf?password=s3cret").unwrap();
        assert_eq!(query.describe(), "PostgreSQL at db.internal/cf");
    }

    #[test]
    fn query_string_passwords_are_redacted() {
        let t = DatabaseTarget::parse("postgres://u@db/cf?sslmode=require&password=Sup3rSecret")
            .unwrap();
        let red = t.redact("failed: password=Sup3rSecret rejected");
        assert!(!red.contains("Sup3rSecret"), "{red}");
    }

    #[test]
    fn sqlite_database_is_created_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::connect(&format!("sqlite://{}", path.display()), 2).unwrap();
        let n = db
            .run_blocking(|c| {
                use diesel::prelude::*;
                schema::applications::table.count().get_result::<i64>(c)
            })
            .unwrap();
        assert_eq!(n, 0);
        // Connecting again finds nothing pending.
        Db::connect(&format!("sqlite://{}", path.display()), 2).unwrap();
    }

    #[test]
    fn every_pooled_sqlite_connection_reads_through_a_memory_map() {
        use diesel::prelude::*;
        use diesel::sql_types::BigInt;
        #[derive(QueryableByName)]
        struct Mmap {
            #[diesel(sql_type = BigInt)]
            mmap_size: i64,
        }
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(
            &format!("sqlite://{}", dir.path().join("m.db").display()),
            2,
        )
        .unwrap();
        // Both connections of the pool at once: each job holds its own until the other has one.
        let both = std::sync::Arc::new(std::sync::Barrier::new(2));
        let jobs: Vec<_> = (0..2)
            .map(|_| {
                let (db, both) = (db.clone(), both.clone());
                std::thread::spawn(move || {
                    db.run_blocking(|c| {
                        both.wait();
                        diesel::sql_query("PRAGMA mmap_size").get_result::<Mmap>(c)
                    })
                    .unwrap()
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.join().unwrap().mmap_size, SQLITE_MMAP_BYTES as i64);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_sqlite_database_and_its_wal_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.db");
        // Keep the pool open so that the -wal and -shm files exist while they are checked.
        let db = Db::connect(&format!("sqlite://{}", path.display()), 1).unwrap();
        db.run_blocking(|c| {
            c.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
        })
        .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file)
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file} has mode {:o}", mode & 0o777);
        }
    }

    /// The caller's own error type, as a service crate has one.
    #[derive(Debug)]
    enum TestError {
        Db(DbError),
        Domain,
    }

    impl From<DieselError> for TestError {
        fn from(e: DieselError) -> Self {
            TestError::Db(DbError::Query(e))
        }
    }

    impl From<DbError> for TestError {
        fn from(e: DbError) -> Self {
            TestError::Db(e)
        }
    }

    impl TransactionError for TestError {
        fn as_query_error(&self) -> Option<&DieselError> {
            match self {
                TestError::Db(e) => e.as_query_error(),
                TestError::Domain => None,
            }
        }
    }

    #[actix_web::test]
    async fn a_transaction_rolls_back_on_the_callers_error_and_commits_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(
            &format!("sqlite://{}", dir.path().join("t.db").display()),
            2,
        )
        .unwrap();
        db.run(|c| c.batch_execute("CREATE TABLE t (x INTEGER NOT NULL)"))
            .await
            .unwrap();
        let failed: Result<(), TestError> = db
            .transaction(|c| {
                c.batch_execute("INSERT INTO t (x) VALUES (1)")?;
                Err(TestError::Domain)
            })
            .await;
        assert!(matches!(failed, Err(TestError::Domain)));
        let committed: Result<usize, TestError> = db
            .transaction(|c| {
                c.batch_execute("INSERT INTO t (x) VALUES (2)")?;
                Ok(1)
            })
            .await;
        assert_eq!(committed.unwrap(), 1);
        let count = |c: &mut DbConnection| {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            diesel::sql_query("SELECT COUNT(*) AS n FROM t WHERE x = 1")
                .get_result::<N>(c)
                .map(|r| r.n)
        };
        assert_eq!(
            db.run(count).await.unwrap(),
            0,
            "the failed insert rolled back"
        );
        // A query error comes out as the caller's type, with the query error inside.
        let bad: Result<(), TestError> = db
            .transaction(|c| Ok(c.batch_execute("INSERT INTO nowhere VALUES (1)")?))
            .await;
        assert!(bad.unwrap_err().as_query_error().is_some());
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let err = Db::connect("sqlite:///nonexistent-dir-xyz/cf.db", 1)
            .err()
            .unwrap();
        assert!(err.contains("does not exist"), "{err}");
    }
}
