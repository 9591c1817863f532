package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/audit"
	"idp/clients"
	"idp/keys"
	"idp/logout"
	"idp/mail"
	"idp/mfa"
	"idp/resources"
	"idp/selfservice"
	"idp/server/adminhttp"
	"idp/server/pages"
	"idp/server/plumbing"
	"idp/server/protocol"
	"idp/sessions"
	"idp/templates"
	"idp/throttle"
	"idp/tokens"
	"idp/upstreams"
	"idp/users"
)

// Config is the validated configuration the server needs.
type Config struct {
	// Issuer is the exact iss of every token, without a trailing slash.
	Issuer string
	// AccessTokenTTL is the lifetime of access and ID tokens.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the absolute lifetime of a refresh-token family.
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is the lost-response retry window of a refresh token.
	RefreshReuseGrace time.Duration
	// UpstreamCheckInterval is how long an upstream provider's yes lasts
	// before a refresh of a family signed in through it asks again; 0
	// asks at every refresh (docs/federation.md).
	UpstreamCheckInterval time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS.
	JWKSMaxAge time.Duration
	// KeyRotationInterval is shown on the admin keys page and drives its
	// timeline.
	KeyRotationInterval time.Duration
	// SessionTTL is the lifetime of an SSO session (default 24h).
	SessionTTL time.Duration
	// CSRFKey keys the HMAC that binds form tokens to the browser's CSRF
	// cookie; replicas must share it (derive it from the master key).
	CSRFKey []byte
	// TokenRateLimit is the token endpoint's requests per second per client
	// on this replica; 0 is no limit.
	TokenRateLimit float64
	// Now is the clock; tests control it. Default time.Now.
	Now func() time.Time
	// Logger receives request and error logs. Default slog.Default().
	Logger *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when naming the client address (sign-in throttling, audit,
	// sessions). Empty: the TCP peer is the client and the header is
	// ignored, so nobody can pick their own address by sending it.
	TrustedProxies []*net.IPNet
	// MFARequiredRoles are the roles whose users must use a second factor
	// for every authorization and for the admin pages and API.
	MFARequiredRoles []string
	// Registration is who may use the registration endpoint (RFC 7591):
	// RegistrationToken, RegistrationOpen or RegistrationClosed (the
	// zero value is token, the contract's default); RegistrationIdleTTL is
	// how long an open registration may go unused before it is purged
	// (0: 30 days).
	Registration        string
	RegistrationIdleTTL time.Duration
	// Signup is who may create an account at /signup: "open", or
	// "invite-only" / "closed" (the zero value), where nobody may;
	// SignupDomains limits open sign-up to those email domains.
	Signup        string
	SignupDomains []string
	// RequirePAR refuses every authorization request that was not pushed
	// to the PAR endpoint first (RFC 9126; --require-par).
	RequirePAR bool
	// DPoPNonce makes the token endpoint and UserInfo require a server
	// nonce in every DPoP proof (RFC 9449 §8, §9; --dpop-nonce).
	// DPoPNonceKey keys those stateless nonces; replicas must share it
	// (derive it from the master key). DPoPWindow bounds a proof's iat
	// either way (0: 60 s).
	DPoPNonce    bool
	DPoPNonceKey []byte
	DPoPWindow   time.Duration
	// NoPasswordLogin hides the password form and refuses password
	// sign-ins (--password-login=false): upstream providers only.
	NoPasswordLogin bool
}

// Deps are the domain services the handlers use.
type Deps struct {
	DB   plumbing.Pinger // /readyz pings it; metrics read its pool statistics if it has them
	Keys *keys.Manager
	// Admin is every administrative action; the admin pages and API are
	// adapters over it.
	Admin     *admin.Service
	Users     *users.Service
	Clients   *clients.Service
	Resources *resources.Service
	Sessions  *sessions.Service
	Tokens    *tokens.Service
	Templates *templates.Set
	Audit     *audit.Log
	Throttle  *throttle.Throttle
	MFA       *mfa.Service
	// Mail is the outbox (optional): /metrics counts its messages when it
	// is enabled.
	Mail *mail.Service
	// SelfService is password reset by mail (optional: the pages offer
	// it only when it is enabled).
	SelfService *selfservice.Service
	// Upstreams are the providers people may sign in with instead of a
	// password (optional).
	Upstreams *upstreams.Service
	// Logout is back- and front-channel logout (optional): the signed-out
	// page loads the front-channel logout URIs of the ended session.
	Logout *logout.Service
}

// Server is the provider's HTTP handler: one Echo application that mounts
// the protocol endpoints, the end-user pages and the admin side.
type Server struct {
	deps     Deps
	echo     *echo.Echo
	site     *plumbing.Site
	metrics  *plumbing.Metrics
	protocol *protocol.Handlers
	pages    *pages.Handlers
	admin    *adminhttp.Handlers
}

// The pages hand a pending authorization request to the protocol side by
// its id only, through the interface they declare.
var _ pages.Authorizer = (*protocol.Handlers)(nil)

// New builds the server and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" || strings.HasSuffix(cfg.Issuer, "/") {
		return nil, errors.New("server: issuer must be an absolute URL without a trailing slash")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	if len(cfg.CSRFKey) < 32 {
		return nil, errors.New("server: CSRFKey must be at least 32 bytes")
	}
	if deps.DB == nil || deps.Keys == nil || deps.Users == nil || deps.Clients == nil ||
		deps.Sessions == nil || deps.Tokens == nil || deps.Templates == nil || deps.Audit == nil ||
		deps.Throttle == nil || deps.MFA == nil || deps.Resources == nil {
		return nil, errors.New("server: every dependency must be set")
	}
	site := &plumbing.Site{
		Issuer: cfg.Issuer, Secure: u.Scheme == "https", CSRFKey: cfg.CSRFKey, Clock: cfg.Now, Log: cfg.Logger,
		Templates: deps.Templates, Audit: deps.Audit,
		Users: deps.Users, Sessions: deps.Sessions, Clients: deps.Clients, Resources: deps.Resources, Tokens: deps.Tokens,
		MFA: deps.MFA, MFARequiredRoles: cfg.MFARequiredRoles,
	}
	s := &Server{deps: deps, site: site, metrics: plumbing.NewMetrics(deps.Keys, deps.DB)}
	switch cfg.Registration {
	case "":
		cfg.Registration = protocol.RegistrationToken
	case protocol.RegistrationToken, protocol.RegistrationOpen, protocol.RegistrationClosed:
	default:
		return nil, fmt.Errorf("server: registration must be token, open or closed, not %q", cfg.Registration)
	}
	s.protocol, err = protocol.New(site, protocol.Config{JWKSMaxAge: cfg.JWKSMaxAge, TokenRateLimit: cfg.TokenRateLimit,
		Registration: cfg.Registration, Throttle: deps.Throttle, RequirePAR: cfg.RequirePAR,
		DPoP: dpopConfig(cfg)}, deps.Keys, s.metrics)
	if err != nil {
		return nil, err
	}
	s.pages = pages.New(site, pages.Config{SessionTTL: cfg.SessionTTL, SelfService: deps.SelfService,
		Signup: cfg.Signup == "open" && deps.SelfService.ResetEnabled(), SignupDomains: cfg.SignupDomains, InviteOnly: cfg.Signup == "invite-only",
		Upstreams: deps.Upstreams, NoPasswordLogin: cfg.NoPasswordLogin, Metrics: s.metrics}, deps.Throttle, s.protocol)
	s.admin = adminhttp.New(site, adminhttp.Config{JWKSMaxAge: cfg.JWKSMaxAge, KeyRotationInterval: cfg.KeyRotationInterval,
		Registration: cfg.Registration, MailEnabled: deps.SelfService.ResetEnabled()}, deps.Admin)
	deps.Audit.Observe(s.metrics.OnAudit)
	if deps.Logout != nil {
		site.FrontChannel = deps.Logout.FrontChannel
		s.metrics.ObserveLogout(deps.Logout)
	}
	if deps.Mail.Enabled() {
		s.metrics.ObserveMail(deps.Mail)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = plumbing.IPExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = site.HandleError
	s.echo = e
	s.routes()
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }
