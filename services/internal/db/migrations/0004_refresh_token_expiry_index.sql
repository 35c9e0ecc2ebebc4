-- The worker's retention deletes expired refresh tokens in batches ordered
-- by expiry (audit_events already has audit_events_created_idx).
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
