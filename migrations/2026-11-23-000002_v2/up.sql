-- /v2 data. Every row carries its environment; every query filters by it.
-- Timestamps are Unix microseconds. Lists of ids are JSON arrays in TEXT.

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    reference TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    assignee TEXT,
    subject_ids TEXT NOT NULL DEFAULT '[]',
    resolution TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE UNIQUE INDEX cases_environment_reference ON cases (environment, reference);
CREATE INDEX cases_environment_created ON cases (environment, created_at);

-- Per-environment, per-year counters behind CF-YYYY-NNNNNN references.
CREATE TABLE case_reference_counters (
    environment TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_value BIGINT NOT NULL,
    PRIMARY KEY (environment, year)
);

-- The audit trail: one row per change to a case.
CREATE TABLE case_events (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    environment TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    -- JSON object: field → {"from": …, "to": …}
    changes TEXT NOT NULL
);
CREATE INDEX case_events_case_at ON case_events (case_id, at);

CREATE TABLE sars (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    case_id TEXT NOT NULL REFERENCES cases (id),
    status TEXT NOT NULL,
    narrative TEXT NOT NULL DEFAULT '',
    subject_ids TEXT NOT NULL DEFAULT '[]',
    -- Decimal string, e.g. "125000.50": money is never a float.
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    submitted_at BIGINT
);
CREATE INDEX sars_environment_created ON sars (environment, created_at);

CREATE TABLE watchlist_entries (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    name TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '[]',
    entry_type TEXT NOT NULL,
    country TEXT,
    date_of_birth TEXT,
    list_source TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX watchlist_environment_created ON watchlist_entries (environment, created_at);

CREATE TABLE subjects (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    subject_type TEXT NOT NULL,
    name TEXT NOT NULL,
    country TEXT,
    date_of_birth TEXT,
    risk_score INTEGER NOT NULL,
    risk_level TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subjects_environment_created ON subjects (environment, created_at);

CREATE TABLE transactions (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    subject_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    direction TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    occurred_at BIGINT NOT NULL
);
CREATE INDEX transactions_environment_occurred ON transactions (environment, occurred_at);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    subject_id TEXT NOT NULL,
    transaction_id TEXT,
    alert_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX alerts_environment_created ON alerts (environment, created_at);

-- Sandbox seed data, so that a developer with a sandbox key sees realistic records at once.
-- Risk scores follow the rule in resource-api/src/domain/risk.rs.
-- 1767225600000000 is 2026-01-01T00:00:00Z; 86400000000 is one day.
INSERT INTO subjects (id, environment, subject_type, name, country, date_of_birth, risk_score, risk_level, created_at, updated_at) VALUES
 ('subj_sandbox0000000001', 'sandbox', 'person', 'Elena Varga', 'HU', '1981-04-12', 10, 'low', 1767225600000000, 1767225600000000),
 ('subj_sandbox0000000002', 'sandbox', 'entity', 'Northwind Trading FZE', 'AE', NULL, 15, 'low', 1767225600000000, 1767225600000000),
 ('subj_sandbox0000000003', 'sandbox', 'person', 'Viktor Sokolov', 'VE', '1975-09-30', 85, 'high', 1767225600000000, 1767225600000000),
 ('subj_sandbox0000000004', 'sandbox', 'entity', 'Blue Harbor Shipping Ltd', 'PA', NULL, 15, 'low', 1767225600000000, 1767225600000000);

INSERT INTO watchlist_entries (id, environment, name, aliases, entry_type, country, date_of_birth, list_source, reason, created_at, updated_at) VALUES
 ('wl_sandbox00000000001', 'sandbox', 'Viktor Sokolov', '["Victor Sokolow","V. Sokolov"]', 'person', 'VE', '1975-09-30', 'sandbox-sanctions', 'Sample sanctions designation (sandbox data)', 1767225600000000, 1767225600000000),
 ('wl_sandbox00000000002', 'sandbox', 'Golden Crescent Holdings', '["Golden Crescent Hldg"]', 'entity', 'IR', NULL, 'sandbox-sanctions', 'Sample entity designation (sandbox data)', 1767225600000000, 1767225600000000),
 ('wl_sandbox00000000003', 'sandbox', 'Amira Haddad', '[]', 'person', 'LB', '1969-02-03', 'sandbox-pep', 'Sample politically exposed person (sandbox data)', 1767225600000000, 1767225600000000);

INSERT INTO transactions (id, environment, subject_id, amount, currency, direction, counterparty, description, occurred_at) VALUES
 ('txn_sandbox0000000001', 'sandbox', 'subj_sandbox0000000001', '2500.00', 'EUR', 'inbound', 'Payroll Kft', 'Salary', 1767312000000000),
 ('txn_sandbox0000000002', 'sandbox', 'subj_sandbox0000000001', '9900.00', 'EUR', 'inbound', 'Cash deposit', 'Cash deposit, branch 14', 1767398400000000),
 ('txn_sandbox0000000003', 'sandbox', 'subj_sandbox0000000001', '9850.00', 'EUR', 'inbound', 'Cash deposit', 'Cash deposit, branch 9', 1767484800000000),
 ('txn_sandbox0000000004', 'sandbox', 'subj_sandbox0000000001', '19500.00', 'EUR', 'outbound', 'Northwind Trading FZE', 'Invoice 2026-001', 1767571200000000),
 ('txn_sandbox0000000005', 'sandbox', 'subj_sandbox0000000002', '19500.00', 'EUR', 'inbound', 'Elena Varga', 'Invoice 2026-001', 1767571200000000),
 ('txn_sandbox0000000006', 'sandbox', 'subj_sandbox0000000002', '250000.00', 'USD', 'outbound', 'Blue Harbor Shipping Ltd', 'Freight prepayment', 1767657600000000),
 ('txn_sandbox0000000007', 'sandbox', 'subj_sandbox0000000003', '125000.50', 'USD', 'inbound', 'Golden Crescent Holdings', 'Consulting fee', 1767744000000000),
 ('txn_sandbox0000000008', 'sandbox', 'subj_sandbox0000000003', '124000.00', 'USD', 'outbound', 'Blue Harbor Shipping Ltd', 'Transfer', 1767830400000000),
 ('txn_sandbox0000000009', 'sandbox', 'subj_sandbox0000000004', '124000.00', 'USD', 'inbound', 'Viktor Sokolov', 'Transfer', 1767830400000000),
 ('txn_sandbox0000000010', 'sandbox', 'subj_sandbox0000000004', '3000.00', 'USD', 'outbound', 'Port authority', 'Harbour fees', 1767916800000000);

INSERT INTO alerts (id, environment, subject_id, transaction_id, alert_type, severity, status, description, created_at) VALUES
 ('alrt_sandbox000000001', 'sandbox', 'subj_sandbox0000000001', 'txn_sandbox0000000003', 'structuring', 'high', 'open', 'Two cash deposits just under 10,000 EUR on consecutive days', 1767484800000000),
 ('alrt_sandbox000000002', 'sandbox', 'subj_sandbox0000000003', 'txn_sandbox0000000007', 'sanctions_counterparty', 'critical', 'open', 'Inbound funds from a watchlisted entity', 1767744000000000),
 ('alrt_sandbox000000003', 'sandbox', 'subj_sandbox0000000003', 'txn_sandbox0000000008', 'rapid_movement', 'high', 'open', 'Funds moved on within 24 hours of receipt', 1767830400000000),
 ('alrt_sandbox000000004', 'sandbox', 'subj_sandbox0000000002', 'txn_sandbox0000000006', 'large_transfer', 'medium', 'closed', 'Large outbound transfer to a shipping company', 1767657600000000);
