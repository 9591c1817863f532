-- +goose Up
-- Plain OAuth 2.0 and GitHub upstreams (issue #18): an oauth2 upstream has
-- configured endpoints instead of discovery, a github one an optional base
-- URL (GitHub Enterprise Server). claim_mapping is a JSON object from idp
-- field (sub, email, email_verified, name) to the upstream claim it is read
-- from; '{}' keeps every field on its kind's default, so existing rows sign
-- in exactly as before.
ALTER TABLE upstreams ADD COLUMN auth_url TEXT NOT NULL DEFAULT '';
ALTER TABLE upstreams ADD COLUMN token_url TEXT NOT NULL DEFAULT '';
ALTER TABLE upstreams ADD COLUMN userinfo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE upstreams ADD COLUMN github_url TEXT NOT NULL DEFAULT '';
ALTER TABLE upstreams ADD COLUMN claim_mapping TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE upstreams DROP COLUMN claim_mapping;
ALTER TABLE upstreams DROP COLUMN github_url;
ALTER TABLE upstreams DROP COLUMN userinfo_url;
ALTER TABLE upstreams DROP COLUMN token_url;
ALTER TABLE upstreams DROP COLUMN auth_url;
