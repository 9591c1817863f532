// Package clients owns the OAuth 2.0 clients that relying parties register
// with idp: their redirect URIs, grant types, scopes, ID-token signing
// algorithm and, for confidential clients, a secret stored only as an
// HMAC-SHA256 under a server-side pepper.
//
// The package holds three pieces:
//   - Client and its rule methods (AllowsGrant, HasRedirectURI, ...), which
//     the authorization and token endpoints call on every request;
//   - validation of client metadata (ValidateRedirectURI, ValidateID), so a
//     client that could not be used safely is never stored;
//   - Service (registration and constant-time authentication) over Store,
//     the only file that touches the database.
//
// Only store.go imports GORM; the rest of the package is plain Go, so the
// rules can be read and tested without a database. From the project it
// imports only db (and may import the oauth leaf); never tokens, server or
// cmd, which sit above it, and never Echo. TestImports enforces this.
package clients
