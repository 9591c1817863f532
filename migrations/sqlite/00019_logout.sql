-- +goose Up
-- OpenID Connect Back-Channel Logout 1.0 §2.2 and Front-Channel Logout
-- 1.0 §2 client metadata: where the client is told that a session ended,
-- and whether it wants iss and sid with it. Empty: the client is not told.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN frontchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN frontchannel_logout_session_required BOOLEAN NOT NULL DEFAULT 0;

-- Which clients obtained tokens in which SSO session (the ID token's
-- sid): written when a code is redeemed, gone with the session, so a
-- session's end knows whom to tell.
CREATE TABLE session_clients (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (session_id, client_id)
);
CREATE INDEX session_clients_client ON session_clients (client_id);

-- Back-channel logout deliveries: one row per (ended session, client with
-- a backchannel_logout_uri), inserted in the transaction that ended the
-- session; the unique pair makes a session's end enqueue each client
-- once however many replicas end it together. Any replica delivers a due
-- row after claiming it by a conditional update of lease_until. state:
-- queued, delivered, failed (gave up) or dropped (the client no longer
-- has a back-channel URI). The logout token is built at delivery time and
-- never stored.
CREATE TABLE logout_deliveries (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     DATETIME,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    UNIQUE (session_id, client_id)
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (state, next_attempt_at);
CREATE INDEX logout_deliveries_updated ON logout_deliveries (updated_at);

-- +goose Down
DROP TABLE logout_deliveries;
DROP TABLE session_clients;
ALTER TABLE clients DROP COLUMN frontchannel_logout_session_required;
ALTER TABLE clients DROP COLUMN frontchannel_logout_uri;
ALTER TABLE clients DROP COLUMN backchannel_logout_session_required;
ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
