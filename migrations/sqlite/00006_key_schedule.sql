-- +goose Up
-- The key schedule lives with the keys, so every process judges it alike.
-- signs_from: the earliest time a next key may sign, fixed when it is
-- published from the JWKS max-age of every serving process (raised, never
-- lowered). signed_until: the latest expiry of any token the key signed (a
-- high-water mark written before such a token is issued), from which a
-- retired key's not_after, the time it leaves the JWKS, is computed.
ALTER TABLE signing_keys ADD COLUMN signs_from DATETIME;
ALTER TABLE signing_keys ADD COLUMN signed_until DATETIME;
-- Keys published by earlier versions: a next key waits as if published under
-- the default max-age (5 min) plus the 5 s cache propagation; serve raises
-- that for a longer --jwks-max-age. Active keys signed tokens whose lifetime
-- is unknown here: assume the longest --access-token-ttl allowed (24 h).
UPDATE signing_keys SET signs_from = COALESCE(activated_at, strftime('%Y-%m-%d %H:%M:%f+00:00', created_at, '+305 seconds'));
UPDATE signing_keys SET signed_until = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', '+1 day') WHERE state = 'active';

-- The serving policy of every `idp serve` process, recorded at start and
-- refreshed while it runs (seen_at), so admin commands judge with the
-- settings relying services were actually given, and can show them.
CREATE TABLE key_policies (
    instance             TEXT PRIMARY KEY,
    host                 TEXT NOT NULL,
    pid                  INTEGER NOT NULL,
    started_at           DATETIME NOT NULL,
    seen_at              DATETIME NOT NULL,
    stopped_at           DATETIME,
    jwks_max_age_ms      INTEGER NOT NULL,
    cache_ttl_ms         INTEGER NOT NULL,
    rotation_interval_ms INTEGER NOT NULL,
    token_ttl_ms         INTEGER NOT NULL,
    clock_skew_ms        INTEGER NOT NULL
);

-- One row whose update every key-creating transaction and every policy
-- registration begins with: they serialise on it (on PostgreSQL the row
-- lock, on SQLite the write lock), so a process that registers while a key
-- is being published is either seen by the publisher or sees the key.
CREATE TABLE key_schedule (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO key_schedule (id, epoch) VALUES (1, 0);

-- +goose Down
DROP TABLE key_schedule;
DROP TABLE key_policies;
ALTER TABLE signing_keys DROP COLUMN signed_until;
ALTER TABLE signing_keys DROP COLUMN signs_from;
