// Package oauth is idp's protocol vocabulary and its pure rules: the
// *Error type and one constructor per RFC 6749 / OIDC error code, grant,
// response-type and prompt constants, PKCE verification, scope parsing and
// exact redirect-URI matching. It does no I/O and imports nothing from the
// project, so every other package may use it.
package oauth
