ALTER TABLE applications DROP COLUMN disabled_by_admin;
