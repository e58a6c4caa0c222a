-- Authorization-server tables. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Timestamps are Unix microseconds (BIGINT) so both backends compare and sort them alike.

CREATE TABLE applications (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Space-delimited scope names (RFC 6749 §3.3).
    scopes TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    tier TEXT NOT NULL,
    -- bcrypt of base64(SHA-256(secret)); never the secret.
    secret_hash TEXT NOT NULL,
    -- After a rotation with a grace period, the old hash keeps working until this instant.
    previous_secret_hash TEXT,
    previous_secret_expires_at BIGINT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- Soft delete, so that replicas polling for changes see the deletion.
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX applications_updated_at ON applications (updated_at);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    scopes TEXT NOT NULL,
    tier TEXT NOT NULL,
    -- Lower-case hex SHA-256 of the whole key.
    key_digest TEXT NOT NULL UNIQUE,
    masked_token TEXT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX api_keys_created_at ON api_keys (created_at);
CREATE INDEX api_keys_updated_at ON api_keys (updated_at);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    -- Base64 PKCS#8 DER of the private key.
    private_key TEXT NOT NULL,
    -- Base64url of the raw public key (the JWK `x`).
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Set when a newer key takes over signing; the key stays published until every token it
    -- signed has expired.
    retired_at BIGINT
);

CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    -- Unix microseconds; the row can be purged after this.
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at);
