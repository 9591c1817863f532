-- +goose Up
-- DPoP (RFC 9449). Proofs already used at idp's own endpoints, by a hash
-- of their key thumbprint and jti, kept until they would be stale anyway:
-- the primary key is the lock, so a replay is refused on every replica.
CREATE TABLE dpop_proofs (
    proof_hash TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dpop_proofs_expires ON dpop_proofs (expires_at);
-- The key a public client's refresh family is bound to (§5); '' unbound.
ALTER TABLE refresh_families ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
-- The key an authorization request and its code are bound to by the
-- dpop_jkt parameter (§10); '' unbound.
ALTER TABLE auth_requests ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
-- The client's dpop_bound_access_tokens metadata (§5.2, --require-dpop):
-- its token requests must carry a proof.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
ALTER TABLE auth_codes DROP COLUMN dpop_jkt;
ALTER TABLE auth_requests DROP COLUMN dpop_jkt;
ALTER TABLE refresh_families DROP COLUMN dpop_jkt;
DROP TABLE dpop_proofs;
