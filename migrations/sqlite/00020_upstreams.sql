-- +goose Up
-- Upstream identity providers (issue #18): sign-in is delegated to another
-- OpenID provider. The client secret is sealed under a key derived from the
-- master key (AES-256-GCM, the upstream id as additional data); scopes and
-- allowed_domains are JSON arrays.
CREATE TABLE upstreams (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'oidc',
    issuer          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    secret_sealed   BLOB,
    scopes          TEXT NOT NULL DEFAULT '[]',
    allowed_domains TEXT NOT NULL DEFAULT '[]',
    link_by_email   BOOLEAN NOT NULL DEFAULT FALSE,
    jit             BOOLEAN NOT NULL DEFAULT FALSE,
    roles_claim     TEXT NOT NULL DEFAULT '',
    roles_prefix    TEXT NOT NULL DEFAULT '',
    required_group  TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL
);
-- One upstream account signs in to exactly one idp user; a user may have
-- several. Deleting the user or the upstream forgets its links.
CREATE TABLE upstream_links (
    upstream_id  TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    upstream_sub TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email        TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME NOT NULL,
    PRIMARY KEY (upstream_id, upstream_sub)
);
CREATE INDEX upstream_links_user ON upstream_links (user_id);
-- Sign-ins in progress at an upstream: the state (stored as its hash) is
-- single use, and holds the PKCE verifier and nonce of that one attempt.
CREATE TABLE upstream_states (
    state_hash    TEXT PRIMARY KEY,
    upstream_id   TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    next          TEXT NOT NULL DEFAULT '',
    expires_at    DATETIME NOT NULL
);
CREATE INDEX upstream_states_expiry ON upstream_states (expires_at);

-- +goose Down
DROP TABLE upstream_states;
DROP TABLE upstream_links;
DROP TABLE upstreams;
