// Package verifier lets a relying service check the tokens idp issues: RFC
// 9068 JWT access tokens presented as bearer tokens (RFC 6750), and OpenID
// Connect ID tokens (OIDC Core §3.1.3.7).
//
// It owns discovery of the issuer's JWKS, a cache of the published keys
// that honours the JWKS Cache-Control max-age and revalidates with
// If-None-Match, signature and claim checks, a net/http middleware, and the
// service's OAuth 2.0 Protected Resource Metadata (RFC 9728): the document,
// its well-known URL and the resource_metadata challenge parameter. The
// Echo middleware lives in the echoverifier subpackage, so services that do
// not use Echo do not import it.
//
// It must not import any other idp package but idp/dpop (the pure DPoP
// proof rules, itself stdlib and go-jose only): relying services vendor it
// on its own. Its only dependencies are the standard library and go-jose.
//
// DPoP-bound access tokens (RFC 9449) are accepted by Middleware with
// their proof; Config.RequireDPoP refuses bearer tokens. Proof replay is
// caught by an in-memory cache per Verifier unless Config.DPoPReplay
// names a shared one (dpop.go explains why).
//
// Security choices, each following RFC 8725 (JWT Best Current Practices):
//   - the algorithm is the key's, never the token header's (§3.1): a token
//     whose alg differs from its key's alg is refused, and alg "none" and
//     HMAC algorithms can never be selected because only RS256 and ES256
//     public keys are kept from the JWKS;
//   - tokens are explicitly typed (§3.11): an ID token is refused where an
//     access token is expected (RFC 9068 §4) and the other way round;
//   - issuer and audience are always checked (§3.8, §3.9).
package verifier
