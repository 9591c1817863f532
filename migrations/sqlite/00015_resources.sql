-- +goose Up
-- Resources: the APIs access tokens are issued for (RFC 8707, RFC 9068
-- §3). uri is the aud of their tokens and their client_id at the
-- introspection endpoint; only an HMAC of their secret is kept (NULL: no
-- credentials). signing_alg ('' = the client's) and the lifetime (0 = the
-- provider's) are their access-token policy.
CREATE TABLE resources (
    uri                      TEXT PRIMARY KEY,
    name                     TEXT NOT NULL DEFAULT '',
    scopes                   TEXT NOT NULL DEFAULT '[]',
    secret_hash              BLOB,
    signing_alg              TEXT NOT NULL DEFAULT '',
    access_token_ttl_seconds INTEGER NOT NULL DEFAULT 0,
    created_at               DATETIME NOT NULL,
    updated_at               DATETIME NOT NULL
);
-- A client that never sends resource gets its tokens for this one.
ALTER TABLE clients ADD COLUMN default_resource TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN default_resource;
DROP TABLE resources;
