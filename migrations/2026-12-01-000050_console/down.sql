DROP INDEX api_keys_owner;
DROP INDEX applications_owner;
ALTER TABLE applications DROP COLUMN last_token_at;
ALTER TABLE api_keys DROP COLUMN owner_id;
ALTER TABLE applications DROP COLUMN owner_id;
DROP TABLE audit_events;
DROP TABLE operator_sessions;
DROP TABLE operators;
