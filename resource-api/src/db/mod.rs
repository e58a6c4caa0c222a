//! Row structs and queries. Every query on `/v2` data goes through [`Scoped`], which can only
//! be made from a verified principal and filters every read and write by its environment:
//! forgetting the environment filter is not expressible.

pub mod cases;
pub mod credentials;
pub mod idempotency;
pub mod records;

use diesel::QueryResult;
use shared::db::DbConnection;
use shared::Environment;

use crate::auth::Principal;

/// The environment a request may see. Built from a principal, never from input.
#[derive(Debug, Clone, Copy)]
pub struct Scoped {
    env: Environment,
}

impl Scoped {
    pub fn of(principal: &Principal) -> Scoped {
        Scoped {
            env: principal.environment,
        }
    }

    /// The environment as stored.
    pub fn env(&self) -> &'static str {
        self.env.as_str()
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

/// Encodes a list of ids for a TEXT column.
pub fn ids_to_json(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a TEXT column of ids; a corrupt value reads as empty rather than failing a list.
pub fn ids_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}
