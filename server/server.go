package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/clients"
	"idp/keys"
	"idp/sessions"
	"idp/templates"
	"idp/tokens"
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
	// Now is the clock; tests control it. Default time.Now.
	Now func() time.Time
	// Logger receives request and error logs. Default slog.Default().
	Logger *slog.Logger
}

// pinger is the one thing /readyz needs of the database.
type pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the domain services the handlers use.
type Deps struct {
	DB        pinger
	Keys      *keys.Manager
	Users     *users.Service
	Clients   *clients.Service
	Sessions  *sessions.Service
	Tokens    *tokens.Service
	Templates *templates.Set
	Audit     *audit.Log
}

// Server is the provider's HTTP handler.
type Server struct {
	cfg       Config
	deps      Deps
	echo      *echo.Echo
	log       *slog.Logger
	issuer    *url.URL
	discovery []byte // prebuilt: it only changes with the configuration
}

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
		deps.Sessions == nil || deps.Tokens == nil || deps.Templates == nil || deps.Audit == nil {
		return nil, errors.New("server: every dependency must be set")
	}
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger, issuer: u}
	if s.discovery, err = s.buildDiscovery(); err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	s.echo = e
	s.routes()
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// now returns the server's clock in UTC.
func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// secure reports whether the issuer is https: cookies are then Secure and
// carry the __Host- prefix.
func (s *Server) secure() bool { return s.issuer.Scheme == "https" }

// url returns the absolute URL of a path under the issuer.
func (s *Server) url(path string) string { return s.cfg.Issuer + path }
