-- +goose Up
-- An email change link carries the new address it confirms; other links
-- leave it empty.
ALTER TABLE mail_links ADD COLUMN email TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE mail_links DROP COLUMN email;
