package oauth

import "net/http"

// InvalidRequestURI: the request_uri of an authorization request is
// unknown, expired, already used or another client's (RFC 9101 §7, used
// by RFC 9126 §4 for pushed requests).
func InvalidRequestURI(desc string) *Error {
	return newError("invalid_request_uri", http.StatusBadRequest, desc)
}
