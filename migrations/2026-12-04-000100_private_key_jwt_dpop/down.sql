DROP INDEX seen_jtis_expires_at;
DROP TABLE seen_jtis;
ALTER TABLE applications DROP COLUMN dpop_bound_access_tokens;
ALTER TABLE applications DROP COLUMN jwks;
ALTER TABLE applications DROP COLUMN token_endpoint_auth_method;
