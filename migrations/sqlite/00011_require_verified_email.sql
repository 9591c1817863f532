-- +goose Up
-- A client whose users must have a verified email address before a code
-- is issued to it (idp clients create … --require-verified-email).
ALTER TABLE clients ADD COLUMN require_verified_email BOOLEAN NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE clients DROP COLUMN require_verified_email;
