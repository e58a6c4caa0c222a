-- Webhooks (issue 25): endpoints per environment, the transactional outbox and the delivery log.
-- Timestamps are Unix microseconds; lists are JSON arrays in TEXT (portable to both backends).

-- An endpoint belongs to one environment. Its signing secret is sealed (XChaCha20-Poly1305
-- under WEBHOOK_SECRET_KEY, the endpoint id as associated data), never stored in the clear;
-- during a rotation's grace period the previous one signs beside it.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- JSON array of event types, e.g. ["case.created","sar.submitted"]
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    secret_sealed TEXT NOT NULL,
    previous_secret_sealed TEXT,
    previous_secret_expires_at BIGINT,
    -- the first failure since the last success (NULL while healthy): 5 days of it disables
    failing_since BIGINT,
    last_success_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX webhook_endpoints_environment_created ON webhook_endpoints (environment, created_at, id);

-- The outbox: one row per event, inserted in the transaction of the change that caused it.
-- `payload` is the exact body sent (so every attempt sends the same bytes); a worker fans it
-- out to the subscribed endpoints' deliveries and sets `dispatched_at`.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX webhook_events_undispatched ON webhook_events (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- One event for one endpoint: its state, the lease of the replica delivering it, and its
-- attempts (the last one's outcome in columns, up to 20 of them in `attempt_log`).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until BIGINT,
    last_attempt_at BIGINT,
    last_response_status INTEGER,
    last_error TEXT,
    last_duration_ms BIGINT,
    response_excerpt TEXT,
    attempt_log TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (environment, endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
