-- +goose Up
-- A change counter for the clients table, so a running server can keep
-- clients in memory and still see every change at once (the contract):
-- each token request reads this one integer instead of the client's row,
-- and reads the row again only when the integer moved. Triggers bump it,
-- so every writer counts: idp serve, the idp CLI in another process, an
-- operator's own SQL. No row yet means no change since the migration.
CREATE TABLE client_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
-- +goose StatementBegin
CREATE TRIGGER clients_changed_insert AFTER INSERT ON clients BEGIN
    INSERT INTO client_changes (id, version) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER clients_changed_update AFTER UPDATE ON clients BEGIN
    INSERT INTO client_changes (id, version) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER clients_changed_delete AFTER DELETE ON clients BEGIN
    INSERT INTO client_changes (id, version) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER clients_changed_delete;
DROP TRIGGER clients_changed_update;
DROP TRIGGER clients_changed_insert;
DROP TABLE client_changes;
