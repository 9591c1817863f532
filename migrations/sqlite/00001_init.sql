-- +goose Up
-- Users sign in with a case-insensitive unique email. Ids are random, never
-- sequential, so they can be the OIDC `sub` without leaking a count.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT 0,
    name           TEXT NOT NULL DEFAULT '',
    roles          TEXT NOT NULL DEFAULT '[]',
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT 0,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL
);
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

-- OAuth clients. secret_hash is an HMAC of the secret, never the secret.
CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL DEFAULT '',
    public                    BOOLEAN NOT NULL DEFAULT 0,
    secret_hash               BLOB,
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types               TEXT NOT NULL DEFAULT '[]',
    scopes                    TEXT NOT NULL DEFAULT '[]',
    signing_alg               TEXT NOT NULL DEFAULT 'RS256',
    trusted                   BOOLEAN NOT NULL DEFAULT 0,
    created_at                DATETIME NOT NULL,
    updated_at                DATETIME NOT NULL
);

-- Signing keys. private_enc is AES-256-GCM under the master key with the
-- kid as associated data. At most one active and one next key per alg: the
-- partial unique indexes are the lock that stops two replicas rotating the
-- same alg at once.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    private_enc  BLOB,
    public_jwk   TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    activated_at DATETIME,
    retired_at   DATETIME,
    not_after    DATETIME
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE users;
