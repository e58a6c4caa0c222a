-- Optimistic concurrency: every write to a record bumps its version in a conditional update
-- (`… WHERE id = ? AND version = <the version read>`), and the version is the record's ETag.
ALTER TABLE cases ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE sars ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE watchlist_entries ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE subjects ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Idempotent creates: the first answer to (credential, Idempotency-Key), written in the same
-- transaction as the record it describes, so a committed create always has its answer stored.
-- The primary key decides between concurrent requests with the same key. Rows older than
-- 24 hours are purged.
CREATE TABLE idempotency_keys (
    -- `app:<client_id>` or `key:<api key id>`: keys are per credential.
    credential_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (hex) of the route and the request body as parsed.
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    response_etag TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (credential_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
