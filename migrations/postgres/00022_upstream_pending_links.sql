-- +goose Up
-- Confirm-to-link (issue #18): a first sign-in through an upstream whose
-- email belongs to an idp account that may not be linked automatically is
-- remembered here, single use and for minutes, until the person signs in
-- to that account by its own means and confirms. The token is in the
-- browser's cookie; only its hash is stored.
CREATE TABLE upstream_pending_links (
    token_hash   TEXT PRIMARY KEY,
    upstream_id  TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    upstream_sub TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT '',
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    request_id   TEXT NOT NULL DEFAULT '',
    next         TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX upstream_pending_links_expiry ON upstream_pending_links (expires_at);

-- +goose Down
DROP TABLE upstream_pending_links;
