DROP INDEX alerts_environment_status_created_id;
DROP INDEX alerts_environment_created_id;
CREATE INDEX alerts_environment_created ON alerts (environment, created_at);

DROP INDEX transactions_environment_subject_occurred_id;
DROP INDEX transactions_environment_occurred_id;
CREATE INDEX transactions_environment_occurred ON transactions (environment, occurred_at);

DROP INDEX subjects_environment_created_id;
CREATE INDEX subjects_environment_created ON subjects (environment, created_at);

DROP INDEX watchlist_environment_created_id;
CREATE INDEX watchlist_environment_created ON watchlist_entries (environment, created_at);

DROP INDEX sars_environment_created_id;
CREATE INDEX sars_environment_created ON sars (environment, created_at);

DROP INDEX case_events_case_at_id;
CREATE INDEX case_events_case_at ON case_events (case_id, at);

DROP INDEX cases_environment_assignee_created_id;
DROP INDEX cases_environment_priority_created_id;
DROP INDEX cases_environment_status_created_id;
DROP INDEX cases_environment_created_id;
CREATE INDEX cases_environment_created ON cases (environment, created_at);
