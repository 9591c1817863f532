-- +goose Up
-- Pushed authorization requests (RFC 9126): the parameters a client pushed
-- to the PAR endpoint, kept under the hash of the random part of the
-- request_uri handed back, for a minute, and redeemed once at /authorize
-- (used_at set by a conditional update).
CREATE TABLE pushed_requests (
    id_hash    TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    params     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
-- A client whose authorization requests must all be pushed (RFC 9126 §6,
-- require_pushed_authorization_requests).
ALTER TABLE clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE clients DROP COLUMN require_par;
DROP TABLE pushed_requests;
