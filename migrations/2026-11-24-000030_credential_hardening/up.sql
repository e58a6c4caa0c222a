-- Hardening of application credentials (portable SQL, SQLite and PostgreSQL).

-- Tokens whose `iat` is earlier than this instant (Unix microseconds) are refused: "revoke all
-- tokens" of an application, and rotation with `revoke_tokens`.
ALTER TABLE applications ADD COLUMN tokens_not_before BIGINT;
-- After a rotation without an explicit grace period, the previous secret keeps working until
-- the new one is first used (bounded by `previous_secret_expires_at`), so that a rotation whose
-- answer was lost never locks the application out.
ALTER TABLE applications ADD COLUMN previous_secret_until_used BOOLEAN NOT NULL DEFAULT FALSE;
-- RFC 7662 §4: an application may introspect other clients' tokens only when granted explicitly.
ALTER TABLE applications ADD COLUMN introspection BOOLEAN NOT NULL DEFAULT FALSE;
