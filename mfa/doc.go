// Package mfa is strong sign-in: passkeys (WebAuthn), authenticator apps
// (TOTP, RFC 6238) and recovery codes, and the rules that say how strongly
// a user authenticated (RFC 8176 amr values, the acr levels idp issues).
//
// Secrets are never stored in the clear: TOTP secrets are sealed under a
// key derived from the master key, recovery codes and ceremony handles
// are stored hashed. Every check that consumes something (a TOTP time
// step, a recovery code, a WebAuthn challenge) is one conditional write,
// so of two racing requests exactly one wins, on every replica.
package mfa
