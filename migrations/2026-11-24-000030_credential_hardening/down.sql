ALTER TABLE applications DROP COLUMN introspection;
ALTER TABLE applications DROP COLUMN previous_secret_until_used;
ALTER TABLE applications DROP COLUMN tokens_not_before;
