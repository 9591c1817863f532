// Package protocol is the OAuth 2.0 and OpenID Connect side of the server:
// discovery and JWKS, the authorization endpoint and the continuation that
// issues its code, the token endpoint with client authentication, UserInfo,
// revocation (RFC 7009), introspection (RFC 7662), the form_post response
// mode and RP-initiated logout (end-session and the confirmation it asks
// for).
//
// It must not import pages (nor adminhttp). The sign-in and consent pages
// hand a pending authorization request back by its id alone, through the
// methods of resume.go, which package server wires to the pages'
// Authorizer: the only place the two sides meet. Shared HTTP plumbing
// comes from plumbing; storage only through the domain packages.
package protocol
