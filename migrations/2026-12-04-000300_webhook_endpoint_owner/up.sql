-- Who a webhook endpoint belongs to in the console (issue 25: admins manage every endpoint,
-- developers their own sandbox ones): the developer who created it in the console, or who owns
-- the credential that created it through /v2. NULL: ops-managed.
ALTER TABLE webhook_endpoints ADD COLUMN owner_id TEXT;
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id, environment, created_at, id);
