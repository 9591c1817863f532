// Package echoverifier adapts the verifier middleware to Echo v4. It is a
// separate package so that services which do not use Echo never import it.
// It must not import any idp package but idp/verifier.
//
// The handlers are the net/http ones wrapped, so responses are identical:
// failures are written here as RFC 6750 challenges and never reach Echo's
// HTTPErrorHandler.
package echoverifier

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/verifier"
)

// Middleware requires a valid access token — a bearer token, or a
// DPoP-bound one with its proof (RFC 9449) — as verifier.Verifier.Middleware
// does; handlers read the claims with Claims.
func Middleware(v *verifier.Verifier) echo.MiddlewareFunc {
	return echo.WrapMiddleware(v.Middleware)
}

// RequireScope answers 403 insufficient_scope unless the token verified by
// Middleware was granted scope. Use it after Middleware, e.g. as a route's
// middleware.
func RequireScope(v *verifier.Verifier, scope string) echo.MiddlewareFunc {
	return echo.WrapMiddleware(func(next http.Handler) http.Handler { return v.RequireScope(scope, next) })
}

// MountMetadata serves h, the resource's RFC 9728 metadata, on e at its
// well-known path. It goes on e itself, not on a group behind Middleware:
// clients read it before they have a token, and a group's prefix would
// move it off the path RFC 9728 §3.1 fixes.
func MountMetadata(e *echo.Echo, h *verifier.MetadataHandler) {
	e.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, h.Path(), echo.WrapHandler(h))
}

// Claims returns the claims Middleware verified, or nil outside it.
func Claims(c echo.Context) *verifier.AccessClaims {
	claims, _ := verifier.ClaimsFrom(c.Request().Context())
	return claims
}
