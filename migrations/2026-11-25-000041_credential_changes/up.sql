-- The credential change feed (portable SQL, SQLite and PostgreSQL). Every change to a
-- credential — application created, changed, disabled, deleted, its secret or
-- `tokens_not_before` moved; API key created, revoked or expired; token revoked; signing key
-- added, retired or revoked — appends one row here in the transaction of the change
-- (`shared::changes::record`). Readers keep the highest `id` they have applied as their cursor.
--
-- `id` is assigned by the database, never by a writer's clock: `MAX(id) + 1` inside the
-- INSERT, with writers serialised (PostgreSQL: a transaction-scoped advisory lock taken just
-- before the INSERT; SQLite: its single writer), so ids become visible in increasing order and a
-- reader's cursor never skips a row committed later. `at` is informative only (pruning).
CREATE TABLE credential_changes (
    id BIGINT PRIMARY KEY NOT NULL,
    -- app | key | token | signing_key
    kind TEXT NOT NULL,
    -- client_id, API-key digest, jti or kid: never a secret.
    subject TEXT NOT NULL,
    at BIGINT NOT NULL
);
-- The feed is never empty, so that MAX(id) survives pruning.
INSERT INTO credential_changes (id, kind, subject, at) VALUES (1, 'start', '', 0);
