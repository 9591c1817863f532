package oauth

import "net/http"

// Error is an OAuth 2.0 / OpenID Connect protocol error. Description is
// written for the client and sent; the wrapped cause is only logged.
type Error struct {
	// Code is the RFC 6749 §5.2 / §4.1.2.1 error code, e.g. "invalid_grant".
	Code string
	// Description is the human-readable error_description sent to the client.
	Description string
	// Status is the HTTP status of a direct (non-redirect) response.
	Status int
	// NoRedirect marks errors raised before the client and redirect_uri are
	// validated: they must be shown to the user, never redirected
	// (RFC 6749 §4.1.2.1).
	NoRedirect bool
	cause      error
}

// Error returns the code and description.
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// Is matches another *Error by code, so errors.Is(err, oauth.InvalidGrant(""))
// asks "is this an invalid_grant?".
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Wrap returns a copy of e carrying cause for the logs.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// WithoutRedirect returns a copy of e that must be rendered, not redirected.
func (e *Error) WithoutRedirect() *Error {
	c := *e
	c.NoRedirect = true
	return &c
}

func newError(code string, status int, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest: a parameter is missing, invalid or repeated (RFC 6749 §5.2).
func InvalidRequest(desc string) *Error {
	return newError("invalid_request", http.StatusBadRequest, desc)
}

// InvalidClient: client authentication failed (RFC 6749 §5.2); 401.
func InvalidClient(desc string) *Error {
	return newError("invalid_client", http.StatusUnauthorized, desc)
}

// InvalidGrant: the code or refresh token is invalid, expired, revoked or
// was issued to another client (RFC 6749 §5.2).
func InvalidGrant(desc string) *Error { return newError("invalid_grant", http.StatusBadRequest, desc) }

// UnauthorizedClient: the client may not use this grant or response type.
func UnauthorizedClient(desc string) *Error {
	return newError("unauthorized_client", http.StatusBadRequest, desc)
}

// UnsupportedGrantType: the grant type is not supported (RFC 6749 §5.2).
func UnsupportedGrantType(desc string) *Error {
	return newError("unsupported_grant_type", http.StatusBadRequest, desc)
}

// UnsupportedResponseType: response_type other than code (RFC 6749 §4.1.2.1).
func UnsupportedResponseType(desc string) *Error {
	return newError("unsupported_response_type", http.StatusBadRequest, desc)
}

// InvalidScope: the scope is invalid, unknown or exceeds what was granted.
func InvalidScope(desc string) *Error { return newError("invalid_scope", http.StatusBadRequest, desc) }

// AccessDenied: the user or the server refused the request.
func AccessDenied(desc string) *Error { return newError("access_denied", http.StatusForbidden, desc) }

// LoginRequired: prompt=none but the user is not signed in (OIDC Core §3.1.2.6).
func LoginRequired(desc string) *Error {
	return newError("login_required", http.StatusBadRequest, desc)
}

// ConsentRequired: prompt=none but consent is needed (OIDC Core §3.1.2.6).
func ConsentRequired(desc string) *Error {
	return newError("consent_required", http.StatusBadRequest, desc)
}

// InteractionRequired: prompt=none but the user must interact.
func InteractionRequired(desc string) *Error {
	return newError("interaction_required", http.StatusBadRequest, desc)
}

// InvalidToken: a bearer token is missing, expired, revoked or malformed
// (RFC 6750 §3.1); 401.
func InvalidToken(desc string) *Error {
	return newError("invalid_token", http.StatusUnauthorized, desc)
}

// InsufficientScope: the bearer token lacks a required scope (RFC 6750 §3.1); 403.
func InsufficientScope(desc string) *Error {
	return newError("insufficient_scope", http.StatusForbidden, desc)
}

// ServerError: an unexpected condition; the cause is logged, never sent.
func ServerError(desc string) *Error {
	return newError("server_error", http.StatusInternalServerError, desc)
}

// TemporarilyUnavailable: overloaded or throttled (RFC 6749 §4.1.2.1).
func TemporarilyUnavailable(desc string) *Error {
	return newError("temporarily_unavailable", http.StatusServiceUnavailable, desc)
}
