// Package dpop checks OAuth 2.0 Demonstrating Proof of Possession proofs
// (RFC 9449): the DPoP header's JWT, signed with the private key whose
// public half it carries, that binds tokens to that key.
//
// It owns the pure rules only: parsing and checking one proof against the
// request it came with (Verify), the JWK SHA-256 thumbprint that tokens are
// bound to (RFC 7638, the cnf "jkt" of RFC 9449 §6), stateless server
// nonces (Nonces, §8) and an in-memory jti replay cache (Memory, §11.1).
// Where a replay cache lives is the caller's choice: idp's own endpoints
// use a database table shared by every replica (tokens.Store.ClaimProof);
// the verifier package, whose relying services have no idp database, uses
// Memory. See docs/dpop.md.
//
// It must import no idp package (stdlib and go-jose only), so that the
// verifier package, which relying services embed, may use it.
package dpop
