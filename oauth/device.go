package oauth

import "net/http"

// GrantDeviceCode is the grant type of the Device Authorization Grant
// (RFC 8628 §3.4).
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// AuthorizationPending: the user has not yet answered the device
// authorization request; the client keeps polling (RFC 8628 §3.5).
func AuthorizationPending(desc string) *Error {
	return newError("authorization_pending", http.StatusBadRequest, desc)
}

// SlowDown: still pending, and the client polled too fast; it must add
// 5 seconds to its interval from now on (RFC 8628 §3.5).
func SlowDown(desc string) *Error { return newError("slow_down", http.StatusBadRequest, desc) }

// ExpiredToken: the device code expired before it was approved; the
// client may start a new device authorization request (RFC 8628 §3.5).
func ExpiredToken(desc string) *Error { return newError("expired_token", http.StatusBadRequest, desc) }
