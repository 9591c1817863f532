// Package tokens owns everything idp issues and later redeems or revokes:
// pending authorization requests (and pushed ones, RFC 9126: stored by
// hash, single use), authorization codes (hashed, single use),
// remembered consent, the access-token denylist, and the claims of ID
// tokens and RFC 9068 access tokens.
//
// It signs through the Signer interface it declares, so it never imports
// keys; *keys.Manager satisfies it. It imports db, oauth, users and clients.
package tokens
