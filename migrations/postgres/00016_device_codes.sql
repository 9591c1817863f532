-- +goose Up
-- RFC 8628 device authorization requests. The device code (a bearer
-- secret the client polls with) and the user code (typed by the user on
-- /device) are stored hashed, never in the clear. status moves
-- pending -> approved|denied -> (approved only) redeemed, each step one
-- conditional update, so a code is approved once and redeemed once.
-- interval_secs and last_polled_at pace polling across replicas
-- (slow_down raises the interval by 5 s, §3.5); polls counts them so a
-- poll's update is a compare-and-swap.
CREATE TABLE device_codes (
    device_hash     TEXT PRIMARY KEY,
    user_code_hash  TEXT NOT NULL UNIQUE,
    client_id       TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope           TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending',
    user_id         TEXT NOT NULL DEFAULT '',
    session_id      TEXT NOT NULL DEFAULT '',
    auth_time       TIMESTAMPTZ,
    amr             TEXT NOT NULL DEFAULT '',
    acr             TEXT NOT NULL DEFAULT '',
    interval_secs   INTEGER NOT NULL,
    polls           INTEGER NOT NULL DEFAULT 0,
    last_polled_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    decided_at      TIMESTAMPTZ,
    used_at         TIMESTAMPTZ
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
