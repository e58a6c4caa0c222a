ALTER TABLE signing_keys DROP COLUMN revoked_at;
ALTER TABLE applications DROP COLUMN disabled_by_admin;
