-- Secrets the console shows once after a redirect (post/redirect/get): the answer to the POST
-- that made a client secret, an API key or a setup link is a 303, and the first GET of the page
-- it names takes the secret from here and deletes the row, so a reload shows the credential
-- without it and never makes a second one. A row belongs to one session (deleted with it) and
-- lives at most ten minutes; `sealed` is XChaCha20-Poly1305 under a key derived from the
-- session's cookie value, which is not stored, so the table alone opens nothing.
CREATE TABLE console_reveals (
    session_digest TEXT NOT NULL REFERENCES operator_sessions (id_digest) ON DELETE CASCADE,
    -- what the secret belongs to, e.g. application:app_…, api_key:key_…, operator:op_…
    target TEXT NOT NULL,
    sealed TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (session_digest, target)
);
