-- Hardening, third round (portable SQL, SQLite and PostgreSQL).

-- Who disabled an application: an admin's disable (console admin, admin API, CLI) can be undone
-- only by an admin; a developer may re-enable only what they disabled themselves. Applications
-- disabled before this column existed count as disabled by an admin.
ALTER TABLE applications ADD COLUMN disabled_by_admin BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE applications SET disabled_by_admin = disabled;
