-- +goose Up
-- The audit log: who did what, when, through which interface, from where.
-- Append-only; ids sort by time so listing newest first is an index scan.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    at         DATETIME NOT NULL,
    actor      TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    via        TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
