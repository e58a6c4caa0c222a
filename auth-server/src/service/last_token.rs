//! `applications.last_token_at`: when each application was last issued a token.
//!
//! The token endpoint never writes per token: it notes the client id and time here (a map the
//! size of the set of applications that got a token since the last flush, each one an
//! authenticated client), and a background loop writes the notes in one transaction every
//! `LAST_USED_FLUSH_SECS` and at shutdown, as the resource API does for `api_keys.last_used_at`.
//! The column therefore lags real issuance by up to one flush interval. The write is neither in
//! the credential change feed nor in the audit trail: it changes no decision anywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use diesel::Connection;
use shared::db::{Db, DbError};

use crate::db::applications::ApplicationRow;

/// Token issues not yet written, by client id (the latest instant of each).
#[derive(Debug, Default)]
pub struct LastTokenTracker {
    pending: Mutex<HashMap<String, i64>>,
}

impl LastTokenTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `client_id` was issued a token at `at` (Unix microseconds).
    pub fn note(&self, client_id: &str, at: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(client_id) {
            Some(t) => *t = (*t).max(at),
            None => {
                pending.insert(client_id.to_owned(), at);
            }
        }
    }

    /// Takes every note (the map is emptied).
    fn take(&self) -> Vec<(String, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }

    /// Puts notes back after a failed write, keeping any newer one taken meanwhile.
    fn restore(&self, notes: Vec<(String, i64)>) {
        for (id, at) in notes {
            self.note(&id, at);
        }
    }

    /// Writes the collected instants in one transaction; returns how many applications were
    /// noted. Blocking (runs on the blocking pool from `shared::skeleton::every`). On failure
    /// the notes are kept for the next flush.
    pub fn flush(&self, db: &Db) -> Result<usize, DbError> {
        let notes = self.take();
        if notes.is_empty() {
            return Ok(0);
        }
        let n = notes.len();
        let written = notes.clone();
        let result = db.run_blocking(move |c| {
            c.transaction(|c| {
                for (id, at) in &written {
                    ApplicationRow::touch_last_token(c, id, *at)?;
                }
                Ok(())
            })
        });
        match result {
            Ok(()) => Ok(n),
            Err(e) => {
                self.restore(notes);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_keep_the_latest_instant_per_client() {
        let t = LastTokenTracker::new();
        t.note("app_a", 5);
        t.note("app_a", 3);
        t.note("app_b", 1);
        let mut taken = t.take();
        taken.sort();
        assert_eq!(taken, vec![("app_a".into(), 5), ("app_b".into(), 1)]);
        assert!(t.take().is_empty(), "taking empties the map");
    }

    #[test]
    fn restored_notes_do_not_overwrite_newer_ones() {
        let t = LastTokenTracker::new();
        t.note("app_a", 10);
        t.restore(vec![("app_a".into(), 4), ("app_b".into(), 2)]);
        let mut taken = t.take();
        taken.sort();
        assert_eq!(taken, vec![("app_a".into(), 10), ("app_b".into(), 2)]);
    }
}
