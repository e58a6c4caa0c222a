-- Lists at scale (resource-api/src/pagination.rs). Every /v2 list is ordered by
-- (sort key, id), newest first (history: oldest first), and is read by keyset: "the rows after
-- (key, id)" is a range of an index on (environment, [filter,] key, id), and the offset of
-- ?page=N is counted on the same index without touching the table. One index per list and
-- per indexed filter; each replaces the (environment, key) index it extends.
DROP INDEX cases_environment_created;
CREATE INDEX cases_environment_created_id ON cases (environment, created_at, id);
CREATE INDEX cases_environment_status_created_id ON cases (environment, status, created_at, id);
CREATE INDEX cases_environment_priority_created_id ON cases (environment, priority, created_at, id);
CREATE INDEX cases_environment_assignee_created_id ON cases (environment, assignee, created_at, id);

DROP INDEX case_events_case_at;
CREATE INDEX case_events_case_at_id ON case_events (case_id, at, id);

DROP INDEX sars_environment_created;
CREATE INDEX sars_environment_created_id ON sars (environment, created_at, id);

DROP INDEX watchlist_environment_created;
CREATE INDEX watchlist_environment_created_id ON watchlist_entries (environment, created_at, id);

DROP INDEX subjects_environment_created;
CREATE INDEX subjects_environment_created_id ON subjects (environment, created_at, id);

DROP INDEX transactions_environment_occurred;
CREATE INDEX transactions_environment_occurred_id ON transactions (environment, occurred_at, id);
CREATE INDEX transactions_environment_subject_occurred_id ON transactions (environment, subject_id, occurred_at, id);

DROP INDEX alerts_environment_created;
CREATE INDEX alerts_environment_created_id ON alerts (environment, created_at, id);
CREATE INDEX alerts_environment_status_created_id ON alerts (environment, status, created_at, id);
