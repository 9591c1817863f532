-- +goose Up
-- Dynamic client registration (RFC 7591) and its management (RFC 7592).
-- Initial access tokens let whoever holds one register a client; only a
-- hash is kept. uses_left counts down to 0, when the token is spent.
CREATE TABLE registration_tokens (
    id         TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    uses_left  INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);
-- How a client was registered: '' by an admin, 'token' or 'open' through
-- the registration endpoint; the hash of its registration access token
-- (RFC 7592), and when it last obtained a token (open registrations
-- unused for --registration-idle-ttl are purged).
ALTER TABLE clients ADD COLUMN registration TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN registration_token_hash BLOB;
ALTER TABLE clients ADD COLUMN last_used_at DATETIME;
CREATE INDEX clients_open_registrations ON clients (registration, last_used_at);

-- +goose Down
DROP INDEX clients_open_registrations;
ALTER TABLE clients DROP COLUMN last_used_at;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN registration;
DROP TABLE registration_tokens;
