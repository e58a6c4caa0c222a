DROP TABLE revoked_tokens;
DROP TABLE signing_keys;
DROP TABLE api_keys;
DROP TABLE applications;
