package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Paths of every endpoint. The well-known ones are fixed by the specs; the
// rest are found through discovery.
const (
	pathDiscovery  = "/.well-known/openid-configuration"
	pathJWKS       = "/.well-known/jwks.json"
	pathAuthorize  = "/authorize"
	pathToken      = "/token"
	pathUserInfo   = "/userinfo"
	pathEndSession = "/end-session"
	pathRevoke     = "/revoke"
	pathIntrospect = "/introspect"
	pathLogin      = "/login"
	pathConsent    = "/consent"
	pathLogout     = "/logout"
	pathAccount    = "/account"
	pathHealthz    = "/healthz"
	pathReadyz     = "/readyz"
	pathMetrics    = "/metrics"
)

// dispatchMatched runs the handler Echo's router chose for the request.
func dispatchMatched(c echo.Context) error { return c.Handler()(c) }

// routes is the one place that lists every route.
func (s *Server) routes() {
	e := s.echo
	// Forms and token requests are small; a larger body is refused (413)
	// before anything parses it. Echo would wrap every middleware around
	// the matched handler anew on each request (a closure per layer per
	// request), so the chain is built once around a handler that calls
	// whichever route Echo matched (or its 404/405 handler).
	common := s.requestID(s.accessLog(s.metrics.observe(s.recoverPanics(s.securityHeaders(
		bodyLimit(maxBody)(s.rejectBadText(dispatchMatched)))))))
	e.Use(func(echo.HandlerFunc) echo.HandlerFunc { return common })

	getOrHead(e, pathDiscovery, corsAnyOrigin(s.handleDiscovery))
	getOrHead(e, pathJWKS, corsAnyOrigin(s.handleJWKS))

	e.GET(pathAuthorize, s.handleAuthorize)
	e.POST(pathAuthorize, s.handleAuthorize)
	e.POST(pathToken, corsAnyOrigin(s.handleToken))
	e.OPTIONS(pathToken, corsAnyOrigin(preflight))
	e.GET(pathUserInfo, corsAnyOrigin(s.handleUserInfo))
	e.POST(pathUserInfo, corsAnyOrigin(s.handleUserInfo))
	e.OPTIONS(pathUserInfo, corsAnyOrigin(preflight))
	e.POST(pathRevoke, corsAnyOrigin(s.handleRevoke))
	e.OPTIONS(pathRevoke, corsAnyOrigin(preflight))
	e.POST(pathIntrospect, corsAnyOrigin(s.handleIntrospect))
	e.OPTIONS(pathIntrospect, corsAnyOrigin(preflight))
	e.GET(pathEndSession, s.handleEndSession)
	e.POST(pathEndSession, s.handleEndSession)

	e.GET(pathLogin, s.handleLoginPage)
	e.POST(pathLogin, s.handleLogin)
	e.GET(pathConsent, s.handleConsentPage)
	e.POST(pathConsent, s.handleConsent)
	e.POST(pathLogout, s.handleLogout)
	e.GET(pathAccount, s.handleAccount)
	e.POST(pathAccount+"/sessions/revoke", s.handleAccountSessionRevoke)
	e.POST(pathAccount+"/grants/revoke", s.handleAccountGrantRevoke)
	e.POST(pathAccount+"/logout-all", s.handleLogoutAll)
	getOrHead(e, "/static/*", s.handleStatic())

	admin := e.Group("/admin", s.requireAdmin)
	admin.GET("", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin/keys") })
	admin.GET("/keys", s.handleAdminKeys)
	admin.POST("/keys/rotate", s.handleAdminRotate)
	admin.POST("/keys/revoke", s.handleAdminRevoke)
	admin.GET("/users", s.handleAdminUsers)
	admin.POST("/users", s.handleAdminCreateUser)
	admin.POST("/users/disable", s.handleAdminDisableUser)
	admin.GET("/clients", s.handleAdminClients)
	admin.POST("/clients", s.handleAdminCreateClient)
	admin.POST("/clients/delete", s.handleAdminDeleteClient)
	admin.GET("/audit", s.handleAdminAudit)

	api := e.Group("/api/admin", s.requireAdminToken)
	api.GET("/keys", s.apiKeys)
	api.POST("/keys/rotate", s.apiRotate)
	api.POST("/keys/:kid/revoke", s.apiRevoke)
	api.GET("/users", s.apiUsers)
	api.POST("/users", s.apiCreateUser)
	api.POST("/users/:id/disable", s.apiDisableUser)
	api.GET("/clients", s.apiClients)
	api.POST("/clients", s.apiCreateClient)
	api.DELETE("/clients/:id", s.apiDeleteClient)
	api.GET("/audit", s.apiAudit)

	getOrHead(e, pathHealthz, s.handleHealthz)
	getOrHead(e, pathReadyz, s.handleReadyz)
	getOrHead(e, pathMetrics, s.metrics.handler())
}

// getOrHead routes GET and HEAD (RFC 9110 §9.3.2) to a read-only handler:
// net/http sends the headers of the GET, Content-Length included, and
// drops the body. Pages and /authorize stay GET-only: a GET there can
// store a request or issue a code, which a HEAD must not.
func getOrHead(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.GET(path, h)
	e.HEAD(path, h)
}
