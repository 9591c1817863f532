package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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

// routes is the one place that lists every route.
func (s *Server) routes() {
	e := s.echo
	e.Use(s.requestID, s.accessLog, s.metrics.observe, s.recoverPanics, s.securityHeaders)
	// Forms and token requests are small; a larger body is refused (413)
	// before anything parses it.
	e.Use(middleware.BodyLimit("64K"), s.rejectBadText)

	e.GET(pathDiscovery, s.handleDiscovery, corsAnyOrigin)
	e.GET(pathJWKS, s.handleJWKS, corsAnyOrigin)

	e.GET(pathAuthorize, s.handleAuthorize)
	e.POST(pathAuthorize, s.handleAuthorize)
	e.POST(pathToken, s.handleToken, corsAnyOrigin)
	e.OPTIONS(pathToken, preflight, corsAnyOrigin)
	e.GET(pathUserInfo, s.handleUserInfo, corsAnyOrigin)
	e.POST(pathUserInfo, s.handleUserInfo, corsAnyOrigin)
	e.OPTIONS(pathUserInfo, preflight, corsAnyOrigin)
	e.POST(pathRevoke, s.handleRevoke, corsAnyOrigin)
	e.OPTIONS(pathRevoke, preflight, corsAnyOrigin)
	e.POST(pathIntrospect, s.handleIntrospect, corsAnyOrigin)
	e.OPTIONS(pathIntrospect, preflight, corsAnyOrigin)
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
	e.GET("/static/*", s.handleStatic())

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

	e.GET(pathHealthz, s.handleHealthz)
	e.GET(pathReadyz, s.handleReadyz)
	e.GET(pathMetrics, s.metrics.handler())
}
