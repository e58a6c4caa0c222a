-- Hardening, third round (portable SQL, SQLite and PostgreSQL).

-- Who disabled an application: an admin's disable (console admin, admin API, CLI) can be undone
-- only by an admin; a developer may re-enable only what they disabled themselves. Applications
-- disabled before this column existed count as disabled by an admin.
ALTER TABLE applications ADD COLUMN disabled_by_admin BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE applications SET disabled_by_admin = disabled;

-- A signing key taken out of service by `keys revoke`: when. It is never published again and
-- the resource API refuses its tokens. (Before this column a revocation backdated retired_at
-- past the publication window, so `keys list` showed it retired before it was made.)
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
