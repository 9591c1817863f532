-- +goose Up
-- A refresh-token family is one grant of offline access: the chain of
-- tokens rotated from the first one a code exchange issued. Revoking the
-- family (reuse detected, user or client revocation) kills every member.
CREATE TABLE refresh_families (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id   TEXT NOT NULL DEFAULT '',
    scope        TEXT NOT NULL,
    resources    TEXT NOT NULL DEFAULT '[]',
    auth_time    DATETIME NOT NULL,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    revoked_at   DATETIME
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_expires ON refresh_families (expires_at);

-- One row per refresh token, by hash. used_at is set by the single
-- conditional update that wins a refresh; child_sealed holds the response
-- that refresh produced, sealed under the master key, until child_until
-- (the reuse grace window) so a retried request gets the same tokens.
-- access_jti is the access token issued alongside this refresh token, so
-- revoking the family can denylist it.
CREATE TABLE refresh_tokens (
    token_hash        TEXT PRIMARY KEY,
    family_id         TEXT NOT NULL REFERENCES refresh_families(id) ON DELETE CASCADE,
    parent_hash       TEXT NOT NULL DEFAULT '',
    created_at        DATETIME NOT NULL,
    idle_expires_at   DATETIME NOT NULL,
    used_at           DATETIME,
    child_sealed      BLOB,
    child_until       DATETIME,
    access_jti        TEXT NOT NULL DEFAULT '',
    access_expires_at DATETIME NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_child_until ON refresh_tokens (child_until);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
