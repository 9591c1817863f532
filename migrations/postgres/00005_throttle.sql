-- +goose Up
-- Failed sign-ins per key ("acct:<email>|<ip>" or "ip:<ip>"), shared by
-- every replica so throttling holds behind any load balancer.
CREATE TABLE signin_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    first_at     TIMESTAMPTZ NOT NULL,
    last_at      TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);
CREATE INDEX signin_failures_last ON signin_failures (last_at);

-- +goose Down
DROP TABLE signin_failures;
