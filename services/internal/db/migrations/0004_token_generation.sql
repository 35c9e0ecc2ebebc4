-- Access tokens are stateless JWTs; these let the backend end them early.
-- users.token_generation is copied into every access token (claim "gen")
-- and bumped by a password change, an admin password reset and "sign out
-- everywhere": tokens of an older generation are refused. Sign-out of one
-- session revokes its refresh token family; access tokens name their
-- family (claim "sid"), and the partial index answers "is this family
-- revoked?" on every request without reading the family's rows.
ALTER TABLE users ADD COLUMN IF NOT EXISTS token_generation bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS refresh_tokens_revoked_family_idx ON refresh_tokens (family_id) WHERE revoked_at IS NOT NULL;
