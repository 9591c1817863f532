// Package keys owns idp's token-signing keys: their lifecycle per algorithm
// (next → active → retired, plus revoked), their encryption at rest under the
// operator's master key, the published JWKS and the signing and verification
// of compact JWS.
//
// Why a "next" key: relying services cache the JWKS (Cache-Control max-age),
// so a key must be published before it signs anything. Each algorithm
// therefore always has one active key, which signs, and one next key, which
// is only published; rotation promotes next to active and publishes a fresh
// next (the dex scheme). A retired key no longer signs, its private part is
// destroyed, and it stays published until every token it signed has expired.
//
// Replicas coordinate through the database alone: partial unique indexes
// allow one active and one next key per algorithm, and state changes are
// conditional updates, so two replicas rotating at once cannot both succeed.
// Each process caches the key state for at most five seconds, which is how
// quickly an admin command run in another process takes effect.
//
// Imports: only db from the project, and only store.go imports GORM.
package keys

import "slices"

// Signature algorithms supported for signing keys (RFC 7518 §3.3 and §3.4).
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Algs lists every supported algorithm; Bootstrap keeps an active and a next
// key for each of them. Callers must not modify it.
var Algs = []string{RS256, ES256}

// Key states, as stored in signing_keys.state.
const (
	// StateNext keys are published in the JWKS but never sign, so relying
	// services learn them before the first token they sign appears.
	StateNext = "next"
	// StateActive is the one key per algorithm that signs new tokens.
	StateActive = "active"
	// StateRetired keys no longer sign (their private part is destroyed) but
	// stay published until not_after, when every token they signed is expired.
	StateRetired = "retired"
	// StateRevoked keys were withdrawn in an emergency: unpublished at once,
	// and tokens they signed stop verifying.
	StateRevoked = "revoked"
)

// knownAlg reports whether alg is one of Algs.
func knownAlg(alg string) bool { return slices.Contains(Algs, alg) }
