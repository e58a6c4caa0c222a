-- Cases filtered by status and priority together (`?status=open&priority=critical`, the
-- triage view) read by keyset and anchored pages like every list (2026-11-25-000040): with one
-- index per filter the other filter was checked against the table row by row, so a deep page
-- of the pair touched the table for every entry it skipped. This index makes the pair one
-- index range, counted and skipped without the table.
CREATE INDEX cases_environment_status_priority_created_id ON cases (environment, status, priority, created_at, id);
