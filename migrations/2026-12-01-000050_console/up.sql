-- The console (portable SQL, SQLite and PostgreSQL): operator accounts, their server-side
-- sessions, and the hash-chained audit trail of every credential and operator event.

-- People who sign in to /console. `email` is stored lowercased and is unique.
CREATE TABLE operators (
    -- op_<base62>
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    -- admin | developer | auditor
    role TEXT NOT NULL,
    -- bcrypt of SHA-256(password) (as client secrets); NULL until set through a setup link.
    password_hash TEXT,
    -- One-time setup link: SHA-256 of its token and when it stops working.
    setup_digest TEXT,
    setup_expires_at BIGINT,
    -- RFC 6238 secret, encrypted with SIGNING_KEY_ENCRYPTION_KEY; enabled once confirmed.
    totp_secret TEXT,
    totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- The last accepted time step, so a code is never accepted twice.
    totp_last_step BIGINT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Server-side sessions. The cookie holds a random id; only its SHA-256 is stored.
CREATE TABLE operator_sessions (
    id_digest TEXT PRIMARY KEY NOT NULL,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- Absolute end; the idle end is last_seen_at + the idle timeout.
    expires_at BIGINT NOT NULL,
    source TEXT
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- The audit trail. `seq` is assigned by the database (MAX + 1 under the writer lock, like
-- credential_changes), so the chain has no gaps and no forks: `hash` is SHA-256 over `prev_hash`
-- and the event's canonical form (auth_server::service::audit), `prev_hash` the previous row's
-- `hash` (64 zeros for the first).
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY NOT NULL,
    -- Unix microseconds.
    at BIGINT NOT NULL,
    -- operator | admin_token | cli | system
    actor_type TEXT NOT NULL,
    -- operator id, 'admin-token', the OS user, or 'system'
    actor_id TEXT NOT NULL,
    -- the operator's email at the time; empty otherwise
    actor_label TEXT NOT NULL,
    -- <object>.<verb>, e.g. api_key.create
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source TEXT,
    -- success | denied | failed
    outcome TEXT NOT NULL,
    -- JSON object of the changed fields, exactly as hashed; never a secret.
    fields TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);

-- Credentials created by a developer in the console belong to them (NULL: ops-managed).
ALTER TABLE applications ADD COLUMN owner_id TEXT;
ALTER TABLE api_keys ADD COLUMN owner_id TEXT;
CREATE INDEX applications_owner ON applications (owner_id);
CREATE INDEX api_keys_owner ON api_keys (owner_id);
-- When the application was last issued a token (flushed in batches, may lag ~a minute).
ALTER TABLE applications ADD COLUMN last_token_at BIGINT;
