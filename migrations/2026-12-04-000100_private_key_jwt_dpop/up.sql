-- Issue 24: private_key_jwt client authentication (RFC 7523) and DPoP (RFC 9449). Portable
-- SQL, SQLite and PostgreSQL.

-- How an application authenticates at the token, introspection and revocation endpoints
-- (RFC 7591 names): client_secret_basic (and _post), or private_key_jwt with `jwks`, its
-- registered public keys (JSON text {"keys": [...]}); such an application has no secret.
ALTER TABLE applications ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE applications ADD COLUMN jwks TEXT;
-- Every token request must carry a DPoP proof (RFC 9449 §5.2).
ALTER TABLE applications ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;

-- Single-use identifiers (client assertion `jti`s, DPoP proof `jti`s) seen by any replica,
-- until they could no longer be accepted anyway; used when REDIS_URL is not set (or Redis does
-- not answer). `key` names the kind and the issuer, so two clients' jtis never collide.
CREATE TABLE seen_jtis (
    key TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_jtis_expires_at ON seen_jtis (expires_at);
