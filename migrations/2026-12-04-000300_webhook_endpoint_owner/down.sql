DROP INDEX webhook_endpoints_owner;
ALTER TABLE webhook_endpoints DROP COLUMN owner_id;
