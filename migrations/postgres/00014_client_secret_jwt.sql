-- +goose Up
-- client_secret_jwt (OIDC Core §9): the secret is the key of the client's
-- HMAC assertions, so for those clients alone idp keeps it, sealed with
-- AES-256-GCM under a key derived from the master key. Other clients'
-- secrets stay HMAC-only (secret_hash).
ALTER TABLE clients ADD COLUMN secret_sealed BYTEA;

-- +goose Down
ALTER TABLE clients DROP COLUMN secret_sealed;
