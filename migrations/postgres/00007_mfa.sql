-- +goose Up
-- Strong sign-in. How a session, a code and a refresh grant were
-- authenticated (RFC 8176 amr values, space-separated; acr as issued), so
-- the ID tokens minted from them say so truthfully.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_families ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_families ADD COLUMN acr TEXT NOT NULL DEFAULT '';
-- acr_values of a pending authorization request (OIDC Core §3.1.2.1).
ALTER TABLE auth_requests ADD COLUMN acr_values TEXT NOT NULL DEFAULT '';
-- A client whose every sign-in needs a second factor.
ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;

-- Passkeys (WebAuthn credentials). credential holds what verifying an
-- assertion needs (public key, flags, sign count) as go-webauthn's JSON;
-- the user handle the authenticator stores is the user's id.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    aaguid       TEXT NOT NULL DEFAULT '',
    credential   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- One authenticator app per user. The secret is sealed under the master
-- key (AES-256-GCM, the user id as associated data). last_step is the
-- newest RFC 6238 time step accepted: a code of that step or older is a
-- replay. confirmed_at is null until the first code proved the enrollment.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_enc   BYTEA NOT NULL,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);

-- Recovery codes, by hash, single use.
CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- WebAuthn ceremonies in flight: the challenge and what the answer must
-- match, by the hash of a random handle the browser holds; single use
-- (deleted by the one request that consumes it), short-lived.
CREATE TABLE webauthn_ceremonies (
    handle_hash TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);

-- Sign-ins half done: the first factor passed, the second is owed. The
-- browser holds a random secret; only its hash is stored.
CREATE TABLE signin_steps (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amr        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX signin_steps_expires ON signin_steps (expires_at);

-- +goose Down
DROP TABLE signin_steps;
DROP TABLE webauthn_ceremonies;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
DROP TABLE passkeys;
ALTER TABLE clients DROP COLUMN require_mfa;
ALTER TABLE auth_requests DROP COLUMN acr_values;
ALTER TABLE refresh_families DROP COLUMN acr;
ALTER TABLE refresh_families DROP COLUMN amr;
ALTER TABLE auth_codes DROP COLUMN acr;
ALTER TABLE auth_codes DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
