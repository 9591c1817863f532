-- +goose Up
-- A change counter for the clients table, so a running server can keep
-- clients in memory and still see every change at once (the contract):
-- each token request reads this one integer instead of the client's row,
-- and reads the row again only when the integer moved. A trigger bumps it,
-- so every writer counts: any replica, the idp CLI, an operator's own SQL.
-- No row yet means no change since the migration.
CREATE TABLE client_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
-- +goose StatementBegin
CREATE FUNCTION note_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_changes (id, version) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET version = client_changes.version + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION note_client_change();

-- +goose Down
DROP TRIGGER clients_changed ON clients;
DROP FUNCTION note_client_change();
DROP TABLE client_changes;
