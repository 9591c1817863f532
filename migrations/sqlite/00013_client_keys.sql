-- +goose Up
-- Client authentication by key (private_key_jwt, RFC 7523): a client's
-- public keys, inline (a JWK Set as JSON) or at a URL idp fetches.
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
-- Assertions already used, by client and a hash of their jti, kept until
-- they expire: a replayed assertion is refused.
CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL,
    jti_hash   TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertions_expires ON client_assertions (expires_at);

-- +goose Down
DROP TABLE client_assertions;
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients DROP COLUMN jwks;
