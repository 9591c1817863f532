package server

import "github.com/labstack/echo/v4/middleware"

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
)

// routes is the one place that lists every route.
func (s *Server) routes() {
	e := s.echo
	e.Use(s.requestID, s.accessLog, s.recoverPanics, s.securityHeaders)
	// Forms and token requests are small; a larger body is refused (413)
	// before anything parses it.
	e.Use(middleware.BodyLimit("64K"))

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

	e.GET(pathHealthz, s.handleHealthz)
	e.GET(pathReadyz, s.handleReadyz)
}
