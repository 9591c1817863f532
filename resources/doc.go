// Package resources owns the APIs (OAuth 2.0 resource servers) registered
// with idp: the absolute URI that is the aud of access tokens issued for
// each (RFC 8707 resource, RFC 9068 §3), the scopes it defines, the
// secret it calls the introspection endpoint with (kept only as an
// HMAC-SHA256 under a server-side pepper), and its access-token policy: a
// signing algorithm and a lifetime of its own.
//
// A token may be issued only for registered resources; Policy answers, for
// the resources of one token, which algorithm signs it, how long it lives
// and which scopes it may carry (Policy.Allows: the one rule for API
// scopes). Only store.go imports GORM; from the project the package imports
// only db and the oauth leaf.
package resources
