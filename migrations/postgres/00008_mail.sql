-- +goose Up
-- Outbound mail. A row is one message to send: its kind names the
-- template and the composer that renders it at send time, so no link
-- token is ever stored here, only the recipient and non-secret data.
-- Any replica may send a queued row whose next attempt is due; it claims
-- it first by a conditional update of lease_until (one sender per
-- message). state: queued, sent, failed (gave up) or dropped (nothing to
-- send, e.g. a reset asked for an unknown address).
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    data            TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_updated ON mail_outbox (updated_at);

-- Single-use links sent by mail (password reset, later verification and
-- invitations). Only the SHA-256 of the 256-bit token is stored. A link
-- is bound to its user and purpose; password_stamp is a digest of the
-- password hash when it was made, so any password change kills it.
CREATE TABLE mail_links (
    token_hash     TEXT PRIMARY KEY,
    purpose        TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_stamp TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_links_user ON mail_links (user_id, purpose);
CREATE INDEX mail_links_expires ON mail_links (expires_at);

-- +goose Down
DROP TABLE mail_links;
DROP TABLE mail_outbox;
