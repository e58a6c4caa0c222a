DROP TABLE watchlist_terms;
DROP INDEX watchlist_entries_environment_id;
DROP INDEX watchlist_entries_index_version;
ALTER TABLE watchlist_entries DROP COLUMN index_version;
ALTER TABLE watchlist_entries DROP COLUMN normalized_names;
