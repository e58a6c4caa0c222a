DROP TABLE idempotency_keys;
ALTER TABLE subjects DROP COLUMN version;
ALTER TABLE watchlist_entries DROP COLUMN version;
ALTER TABLE sars DROP COLUMN version;
ALTER TABLE cases DROP COLUMN version;
