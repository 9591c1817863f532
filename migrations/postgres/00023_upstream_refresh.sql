-- +goose Up
-- Refresh checks the upstream (issue #18). A sign-in through an upstream
-- remembers which upstream account it was (upstream_id, upstream_sub) on
-- the session, and from there on the code, the device request and the
-- refresh family it leads to, so an offline_access family can ask the
-- upstream again after the browser session has ended. '' is a sign-in of
-- idp's own (password, passkey): nothing to ask.
ALTER TABLE sessions ADD COLUMN upstream_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN upstream_sub TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN upstream_id TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN upstream_sub TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN upstream_id TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN upstream_sub TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_families ADD COLUMN upstream_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_families ADD COLUMN upstream_sub TEXT NOT NULL DEFAULT '';
-- What idp needs to ask the upstream again, sealed under the master key
-- with the upstream id and sub as additional data (never in the clear):
-- the upstream's refresh token (oidc), or its access and refresh tokens
-- (oauth2, github). NULL: the upstream gave nothing to ask with, so its
-- families are not checked. checked_at is the last time the upstream
-- agreed (a sign-in or a check), for --upstream-check-interval.
ALTER TABLE upstream_links ADD COLUMN token_sealed BYTEA;
ALTER TABLE upstream_links ADD COLUMN checked_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE upstream_links DROP COLUMN checked_at;
ALTER TABLE upstream_links DROP COLUMN token_sealed;
ALTER TABLE refresh_families DROP COLUMN upstream_sub;
ALTER TABLE refresh_families DROP COLUMN upstream_id;
ALTER TABLE device_codes DROP COLUMN upstream_sub;
ALTER TABLE device_codes DROP COLUMN upstream_id;
ALTER TABLE auth_codes DROP COLUMN upstream_sub;
ALTER TABLE auth_codes DROP COLUMN upstream_id;
ALTER TABLE sessions DROP COLUMN upstream_sub;
ALTER TABLE sessions DROP COLUMN upstream_id;
