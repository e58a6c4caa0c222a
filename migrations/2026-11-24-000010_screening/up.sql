-- Indexed screening. Each watchlist entry stores its names normalised once at write time
-- (a JSON array of space-joined token strings: the name first, then the aliases), and
-- watchlist_terms holds its candidate keys, written in the same transaction as the entry, so
-- that a screen looks up a bounded set of candidates by (environment, term) instead of
-- scoring the whole list.
--
-- Normalisation (Unicode decomposition, transliteration, phonetic keys) is Rust code that
-- portable SQL cannot express, so rows that exist before this migration keep index_version 0
-- and the resource API indexes them when it starts. Raising the version in the code re-indexes
-- every row the same way.
ALTER TABLE watchlist_entries ADD COLUMN normalized_names TEXT NOT NULL DEFAULT '[]';
ALTER TABLE watchlist_entries ADD COLUMN index_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX watchlist_entries_index_version ON watchlist_entries (index_version);
-- Lets SQLite, which keeps no statistics, load a screen's candidates (environment = ? AND id
-- IN (…)) by key instead of walking the environment's rows in watchlist_environment_created.
CREATE INDEX watchlist_entries_environment_id ON watchlist_entries (environment, id);

CREATE TABLE watchlist_terms (
    environment TEXT NOT NULL,
    term TEXT NOT NULL,
    entry_id TEXT NOT NULL REFERENCES watchlist_entries (id),
    PRIMARY KEY (environment, term, entry_id)
);
-- Rewriting an entry's keys looks them up by (entry_id, environment). Leading with entry_id
-- matters: an index leading with environment would tempt SQLite's planner into walking the
-- whole environment for a screen instead of the primary key's (environment, term) lookups.
CREATE INDEX watchlist_terms_entry ON watchlist_terms (entry_id, environment);
