package server

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/selfservice"
	"idp/server/plumbing"
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
	common := plumbing.RequestID(plumbing.Trace(s.site.AccessLog(s.metrics.Observe(s.site.RecoverPanics(s.site.SecurityHeaders(
		plumbing.BodyLimit(plumbing.MaxBody)(plumbing.RejectBadText(dispatchMatched))))))))
	e.Use(func(echo.HandlerFunc) echo.HandlerFunc { return common })

	s.protocolRoutes(e)
	s.pageRoutes(e)
	s.adminRoutes(e)

	getOrHead(e, plumbing.PathHealthz, plumbing.Healthz)
	getOrHead(e, plumbing.PathReadyz, plumbing.Readyz(s.deps.DB, s.deps.Keys, s.site.Log))
	getOrHead(e, plumbing.PathMetrics, s.metrics.Handler())
}

// protocolRoutes mounts the OAuth 2.0 and OpenID Connect endpoints. Those
// that authenticate by request content, never by cookie, allow any origin.
func (s *Server) protocolRoutes(e *echo.Echo) {
	p, cors := s.protocol, plumbing.CORSAnyOrigin
	getOrHead(e, plumbing.PathDiscovery, cors(p.Discovery))
	getOrHead(e, plumbing.PathASMetadata, cors(p.Discovery))
	if u, err := url.Parse(s.site.Issuer); err == nil && u.Path != "" {
		// RFC 8414 §3.1: https://host/.well-known/oauth-authorization-server/path
		// for the issuer https://host/path, when the proxy sends it here.
		getOrHead(e, plumbing.PathASMetadata+u.Path, cors(p.Discovery))
	}
	getOrHead(e, plumbing.PathJWKS, cors(p.JWKS))

	e.GET(plumbing.PathAuthorize, p.Authorize)
	e.POST(plumbing.PathAuthorize, p.Authorize)
	if p.Registers() {
		e.POST(plumbing.PathRegister, cors(p.Register))
		e.OPTIONS(plumbing.PathRegister, cors(plumbing.Preflight))
		reg := plumbing.PathRegister + "/:id"
		e.GET(reg, cors(p.ReadRegistration))
		e.PUT(reg, cors(p.UpdateRegistration))
		e.DELETE(reg, cors(p.DeleteRegistration))
		e.OPTIONS(reg, cors(p.RegistrationPreflight))
	}
	e.POST(plumbing.PathToken, cors(p.Token))
	e.POST(plumbing.PathDeviceAuthorization, cors(p.DeviceAuthorization))
	e.OPTIONS(plumbing.PathDeviceAuthorization, cors(plumbing.Preflight))
	e.OPTIONS(plumbing.PathToken, cors(plumbing.Preflight))
	e.POST(plumbing.PathPAR, cors(p.PushAuthorization))
	e.OPTIONS(plumbing.PathPAR, cors(plumbing.Preflight))
	e.GET(plumbing.PathUserInfo, cors(p.UserInfo))
	e.POST(plumbing.PathUserInfo, cors(p.UserInfo))
	e.OPTIONS(plumbing.PathUserInfo, cors(plumbing.Preflight))
	e.POST(plumbing.PathRevoke, cors(p.Revoke))
	e.OPTIONS(plumbing.PathRevoke, cors(plumbing.Preflight))
	e.POST(plumbing.PathIntrospect, cors(p.Introspect))
	e.OPTIONS(plumbing.PathIntrospect, cors(plumbing.Preflight))
	e.GET(plumbing.PathEndSession, p.EndSession)
	e.POST(plumbing.PathEndSession, p.EndSession)
	e.POST(plumbing.PathLogout, p.Logout)
}

// pageRoutes mounts the end-user pages and their assets.
func (s *Server) pageRoutes(e *echo.Echo) {
	p := s.pages
	e.GET(plumbing.PathLogin, p.LoginPage)
	e.POST(plumbing.PathLogin, p.Login)
	e.GET(plumbing.PathLogin+"/upstream/:id", p.UpstreamStart)
	e.GET(plumbing.PathLogin+"/upstream/:id/callback", p.UpstreamCallback)
	e.POST(plumbing.PathLogin+"/link", p.LinkDecision)
	e.POST(plumbing.PathPasskey+"/options", p.PasskeyOptions)
	e.POST(plumbing.PathPasskey, p.PasskeyLogin)
	e.GET("/signup", p.SignupPage)
	e.POST("/signup", p.Signup)
	e.GET(plumbing.PathVerifyNeed, p.VerifyNeededPage)
	e.POST(plumbing.PathVerifyNeed, p.VerifyNeeded)
	e.GET(plumbing.PathLoginMFA, p.MFAPage)
	e.POST(plumbing.PathLoginMFA+"/totp", p.MFATOTP)
	e.POST(plumbing.PathLoginMFA+"/recovery", p.MFARecovery)
	e.POST(plumbing.PathLoginMFA+"/passkey/options", p.MFAPasskeyOptions)
	e.POST(plumbing.PathLoginMFA+"/passkey", p.MFAPasskey)
	e.POST(plumbing.PathLoginMFA+"/enroll/totp", p.EnrollTOTP)
	e.POST(plumbing.PathLoginMFA+"/enroll/passkey/options", p.EnrollPasskeyOptions)
	e.POST(plumbing.PathLoginMFA+"/enroll/passkey", p.EnrollPasskey)
	e.POST(plumbing.PathLoginMFA+"/continue", p.MFAContinue)
	e.GET(plumbing.PathLogin+"/forgot", p.ForgotPage)
	e.POST(plumbing.PathLogin+"/forgot", p.Forgot)
	e.GET(selfservice.ResetPath, p.ResetPage)
	e.POST(selfservice.ResetPath, p.Reset)
	e.GET(selfservice.VerifyPath, p.VerifyPage)
	e.POST(selfservice.VerifyPath, p.Verify)
	e.GET(selfservice.InvitePath, p.InvitePage)
	e.POST(selfservice.InvitePath, p.Invite)
	e.GET(plumbing.PathDevice, p.DevicePage)
	e.POST(plumbing.PathDevice, p.DeviceLookup)
	e.POST(plumbing.PathDevice+"/decide", p.DeviceDecide)
	e.GET(plumbing.PathConsent, p.ConsentPage)
	e.POST(plumbing.PathConsent, p.Consent)
	e.GET(plumbing.PathAccount, p.Account)
	e.POST(plumbing.PathAccount+"/sessions/revoke", p.RevokeSession)
	e.POST(plumbing.PathAccount+"/grants/revoke", p.RevokeGrant)
	e.POST(plumbing.PathAccount+"/upstreams/unlink", p.UnlinkUpstream)
	e.POST(plumbing.PathAccount+"/logout-all", p.LogoutAll)
	e.POST(plumbing.PathAccount+"/password", p.ChangePassword)
	e.POST(plumbing.PathAccount+"/email", p.ChangeEmail)
	e.GET(plumbing.PathAccount+"/email/confirm", p.EmailChangePage)
	e.POST(plumbing.PathAccount+"/email/confirm", p.EmailChange)
	e.GET(plumbing.PathAccount+"/security/totp", p.AccountTOTPPage)
	e.POST(plumbing.PathAccount+"/security/enroll/totp", p.AccountEnrollTOTP)
	e.POST(plumbing.PathAccount+"/security/enroll/passkey/options", p.AccountEnrollPasskeyOptions)
	e.POST(plumbing.PathAccount+"/security/enroll/passkey", p.AccountEnrollPasskey)
	e.POST(plumbing.PathAccount+"/security/passkeys/remove", p.RemovePasskey)
	e.POST(plumbing.PathAccount+"/security/totp/remove", p.RemoveTOTP)
	e.POST(plumbing.PathAccount+"/security/recovery", p.NewRecoveryCodes)
	e.POST(plumbing.PathAccount+"/security/done", p.SecurityDone)
	getOrHead(e, "/static/*", p.Static())
}

// adminRoutes mounts the admin web pages (a signed-in admin's browser) and
// the admin API (an admin's bearer token).
func (s *Server) adminRoutes(e *echo.Echo) {
	a := s.admin
	admin := e.Group(plumbing.PathAdmin, a.RequireAdmin)
	admin.GET("", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin/keys") })
	admin.GET("/keys", a.KeysPage)
	admin.POST("/keys/rotate", a.RotateKey)
	admin.POST("/keys/revoke", a.RevokeKey)
	admin.GET("/users", a.UsersPage)
	admin.POST("/users", a.CreateUser)
	admin.POST("/users/disable", a.DisableUserForm)
	admin.GET("/users/:id", a.UserPage)
	admin.POST("/users/:id/profile", a.UpdateUserProfile)
	admin.POST("/users/:id/disable", a.DisableUser)
	admin.POST("/users/:id/enable", a.EnableUser)
	admin.POST("/users/:id/password", a.SetUserPassword)
	admin.POST("/users/:id/unlock", a.UnlockUser)
	admin.POST("/users/:id/sessions/end", a.EndUserSession)
	admin.POST("/users/:id/grants/revoke", a.RevokeUserGrant)
	admin.POST("/users/:id/sign-out", a.SignOutUser)
	admin.POST("/users/:id/reset-mfa", a.ResetUserMFA)
	admin.POST("/users/invite", a.InviteUser)
	admin.POST("/users/:id/send-reset", a.SendUserReset)
	admin.GET("/clients", a.ClientsPage)
	admin.POST("/clients", a.CreateClient)
	admin.POST("/clients/delete", a.DeleteClient)
	admin.POST("/clients/registration-tokens", a.CreateRegistrationToken)
	admin.GET("/clients/:id", a.ClientPage)
	admin.POST("/clients/:id", a.UpdateClientForm)
	admin.POST("/clients/:id/secret", a.RegenerateClientSecret)
	// A resource's :id is its URI, path-escaped into one segment.
	admin.GET("/resources", a.ResourcesPage)
	admin.POST("/resources", a.CreateResource)
	admin.GET("/resources/:id", a.ResourcePage)
	admin.POST("/resources/:id", a.UpdateResourceForm)
	admin.POST("/resources/:id/secret", a.RegenerateResourceSecret)
	admin.POST("/resources/:id/delete", a.DeleteResource)
	admin.GET("/upstreams", a.UpstreamsPage)
	admin.POST("/upstreams", a.CreateUpstream)
	admin.GET("/upstreams/:id", a.UpstreamPage)
	admin.POST("/upstreams/:id", a.UpdateUpstreamForm)
	admin.POST("/upstreams/:id/delete", a.DeleteUpstream)
	admin.GET("/audit", a.AuditPage)
	admin.GET("/audit/export", a.ExportAudit)

	api := e.Group(plumbing.PathAdminAPI, a.RequireAdminToken)
	api.GET("/keys", a.APIKeys)
	api.POST("/keys/rotate", a.APIRotate)
	api.POST("/keys/:kid/revoke", a.APIRevoke)
	api.GET("/users", a.APIUsers)
	api.POST("/users", a.APICreateUser)
	api.POST("/users/:id/disable", a.APIDisableUser)
	api.POST("/users/:id/enable", a.APIEnableUser)
	api.PATCH("/users/:id", a.APIUpdateUser)
	api.POST("/users/:id/unlock", a.APIUnlockUser)
	api.GET("/users/:id/sessions", a.APIUserSessions)
	api.GET("/users/:id/factors", a.APIUserFactors)
	api.POST("/users/:id/reset-mfa", a.APIResetMFA)
	api.GET("/users/:id/lock", a.APIUserLock)
	api.POST("/users/:id/password", a.APISetPassword)
	api.POST("/users/:id/sessions/:sid/end", a.APIEndSession)
	api.POST("/users/:id/grants/:gid/revoke", a.APIRevokeGrant)
	api.POST("/users/:id/sign-out", a.APISignOut)
	api.POST("/users/invite", a.APIInviteUser)
	api.POST("/users/:id/send-reset", a.APISendReset)
	api.GET("/clients", a.APIClients)
	api.POST("/clients", a.APICreateClient)
	api.DELETE("/clients/:id", a.APIDeleteClient)
	api.PATCH("/clients/:id", a.APIUpdateClient)
	api.POST("/clients/:id/secret", a.APIRegenerateClientSecret)
	api.GET("/resources", a.APIResources)
	api.POST("/resources", a.APICreateResource)
	api.GET("/resources/:id", a.APIResource)
	api.PATCH("/resources/:id", a.APIUpdateResource)
	api.DELETE("/resources/:id", a.APIDeleteResource)
	api.POST("/resources/:id/secret", a.APIRegenerateResourceSecret)
	api.GET("/upstreams", a.APIUpstreams)
	api.POST("/upstreams", a.APICreateUpstream)
	api.GET("/upstreams/:id", a.APIUpstream)
	api.PATCH("/upstreams/:id", a.APIUpdateUpstream)
	api.DELETE("/upstreams/:id", a.APIDeleteUpstream)
	api.GET("/audit", a.APIAudit)
}

// getOrHead routes GET and HEAD (RFC 9110 §9.3.2) to a read-only handler:
// net/http sends the headers of the GET, Content-Length included, and
// drops the body. Pages and /authorize stay GET-only: a GET there can
// store a request or issue a code, which a HEAD must not.
func getOrHead(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.GET(path, h)
	e.HEAD(path, h)
}
