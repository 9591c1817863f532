-- +goose Up
-- RFC 7591 §2 client metadata: how a client is shown to users (logo,
-- home page, privacy policy, terms; never fetched by the server), who is
-- responsible for it, and its protocol preferences. contacts is a JSON
-- array of email addresses like the other list columns. An empty
-- token_endpoint_auth_method accepts either secret method, as every
-- client registered before this column did.
ALTER TABLE clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN client_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN policy_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tos_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web';
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN default_max_age INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN require_auth_time BOOLEAN NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE clients DROP COLUMN require_auth_time;
ALTER TABLE clients DROP COLUMN default_max_age;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_method;
ALTER TABLE clients DROP COLUMN application_type;
ALTER TABLE clients DROP COLUMN contacts;
ALTER TABLE clients DROP COLUMN tos_uri;
ALTER TABLE clients DROP COLUMN policy_uri;
ALTER TABLE clients DROP COLUMN client_uri;
ALTER TABLE clients DROP COLUMN logo_uri;
