package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"idp/verifier"
)

// Config configures the web app.
type Config struct {
	// Issuer is idp's issuer URL, e.g. http://localhost:8080.
	Issuer string
	// ClientID and ClientSecret are the app's registration at idp.
	ClientID     string
	ClientSecret string
	// RedirectURL is the registered redirect URI, e.g.
	// http://localhost:9090/callback; its path is the callback route.
	RedirectURL string
	// PostLogoutRedirectURL is the registered post_logout_redirect_uri;
	// empty means the app's home page, RedirectURL's origin + "/".
	PostLogoutRedirectURL string
	// SessionTTL is the absolute lifetime of an app session; 0 means 12h.
	SessionTTL time.Duration
	// HTTPClient talks to idp; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
	// Now is the clock of token checks, sessions and cookies; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives one line per sign-in, refresh and sign-out; nil
	// means slog.Default().
	Logger *slog.Logger
}

const (
	scopes        = "openid email profile offline_access"
	loginTTL      = 10 * time.Minute // how long a started sign-in may take
	idpCallTTL    = 30 * time.Second // bound of one call to idp
	defaultTTL    = 12 * time.Hour
	cookieSession = "webapp_session"
	cookieLogin   = "webapp_login"  // the pending sign-in: state, nonce, PKCE verifier
	cookieLogout  = "webapp_logout" // the pending sign-out: state
)

// errSignedOut means the request has no usable session: none at all, or
// one whose tokens idp no longer honours.
var errSignedOut = errors.New("not signed in")

// app is the web app. It is an http.Handler.
type app struct {
	cfg      Config
	log      *slog.Logger
	oauth    oauth2.Config
	verifier *verifier.Verifier
	meta     metadata
	sealer   *sealer
	sessions *sessionStore
	secure   bool   // served over https: Secure, __Host- cookies
	csp      string // Content-Security-Policy of the pages
	mux      *http.ServeMux
}

// metadata is the part of idp's discovery document the app uses.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	IssParameter          bool     `json:"authorization_response_iss_parameter_supported"`
}

// newApp reads idp's discovery document and keys, so a wrong issuer fails
// here rather than at the first sign-in, and returns the app's handler.
func newApp(cfg Config) (http.Handler, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = defaultTTL
	}
	var errs []error
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, errors.New("issuer, client id and client secret are required"))
	}
	redirect, err := url.Parse(cfg.RedirectURL)
	if err != nil || !redirect.IsAbs() || redirect.Host == "" || redirect.Path == "" || redirect.Path == "/" {
		errs = append(errs, fmt.Errorf("redirect URL %q must be absolute with a path, like http://localhost:9090/callback", cfg.RedirectURL))
	} else {
		if slices.Contains([]string{"/login", "/logout", "/api/me"}, redirect.Path) || strings.ContainsAny(redirect.Path, "{}") {
			errs = append(errs, fmt.Errorf("redirect URL path %q is taken by another route", redirect.Path))
		}
		if cfg.PostLogoutRedirectURL == "" {
			cfg.PostLogoutRedirectURL = redirect.Scheme + "://" + redirect.Host + "/"
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	ctx, cancel := context.WithTimeout(context.Background(), idpCallTTL)
	defer cancel()
	meta, err := discover(ctx, cfg)
	if err != nil {
		return nil, err
	}
	v, err := verifier.New(ctx, verifier.Config{
		Issuer: cfg.Issuer,
		// idp's access tokens and ID tokens both name the client in aud.
		Audience:   cfg.ClientID,
		HTTPClient: cfg.HTTPClient,
		Now:        cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	s, err := newSealer()
	if err != nil {
		return nil, err
	}
	style := oauth2.AuthStyleInParams
	if slices.Contains(meta.TokenAuthMethods, "client_secret_basic") || len(meta.TokenAuthMethods) == 0 {
		style = oauth2.AuthStyleInHeader // the default of RFC 8414 §2
	}
	a := &app{
		cfg: cfg, log: cfg.Logger, verifier: v, meta: meta, sealer: s,
		sessions: newSessionStore(cfg.Now),
		secure:   redirect.Scheme == "https",
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Scopes: strings.Fields(scopes),
			Endpoint: oauth2.Endpoint{
				AuthURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint, AuthStyle: style,
			},
		},
	}
	// The sign-out form posts here and is redirected to idp: form-action
	// covers redirects after a submission, so idp's origin is listed.
	formAction := "'self'"
	if o := origin(meta.EndSessionEndpoint); o != "" {
		formAction += " " + o
	}
	a.csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action " + formAction

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.handleHome)
	mux.HandleFunc("GET /login", a.handleLogin)
	mux.HandleFunc("GET "+redirect.Path, a.handleCallback)
	mux.HandleFunc("POST /logout", a.handleLogout)
	mux.HandleFunc("GET /api/me", a.handleMe)
	a.mux = mux
	return a, nil
}

// ServeHTTP adds the headers every response gets.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Referrer-Policy", "no-referrer") // the callback URL carries a code
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	a.mux.ServeHTTP(w, r)
}

// discover fetches idp's metadata and checks it names the configured
// issuer exactly (OIDC Discovery §4.3).
func discover(ctx context.Context, cfg Config) (metadata, error) {
	var m metadata
	u := strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return m, fmt.Errorf("discovery: %w", err)
	}
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return m, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("discovery: GET %s: status %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("discovery: %w", err)
	}
	switch {
	case m.Issuer != cfg.Issuer:
		return m, fmt.Errorf("discovery: issuer is %q, configured %q", m.Issuer, cfg.Issuer)
	case m.AuthorizationEndpoint == "" || m.TokenEndpoint == "":
		return m, errors.New("discovery: authorization or token endpoint missing")
	}
	return m, nil
}

// ---- sign-in ----

// handleHome shows who is signed in, or the way to sign in.
func (a *app) handleHome(w http.ResponseWriter, r *http.Request) {
	p := homePage{}
	if a.signedOutReturn(w, r) {
		p.Notice = "You have signed out."
	}
	status := http.StatusOK
	u, err := a.authenticate(w, r)
	switch {
	case err == nil:
		p.User = u
	case errors.Is(err, errSignedOut):
	default:
		a.log.Error("checking the session failed", "error", err)
		p.Error, status = "idp could not be reached to renew your sign-in; try again shortly.", http.StatusBadGateway
	}
	a.render(w, status, p)
}

// handleMe is the protected API: the signed-in user as JSON, or 401.
func (a *app) handleMe(w http.ResponseWriter, r *http.Request) {
	u, err := a.authenticate(w, r)
	switch {
	case errors.Is(err, errSignedOut):
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "login_required", "error_description": "sign in first", "login_url": "/login"})
		return
	case err != nil:
		a.log.Error("checking the session failed", "error", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{
			"error": "temporarily_unavailable", "error_description": "idp could not be reached"})
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// fail shows an error page; err, if any, is logged and not shown.
func (a *app) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	a.log.Warn("request failed", "path", r.URL.Path, "status", status, "message", msg, "error", err)
	a.render(w, status, homePage{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ---- cookies ----

// cookieName adds the __Host- prefix under https: the browser then
// insists on Secure, Path=/ and no Domain.
func (a *app) cookieName(base string) string {
	if a.secure {
		return "__Host-" + base
	}
	return base
}

func (a *app) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(base), Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (a *app) clearCookie(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(base), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// setSealed stores v encrypted in cookie base for ttl.
func (a *app) setSealed(w http.ResponseWriter, base string, v any, ttl time.Duration) error {
	raw, err := a.sealer.seal(base, v)
	if err != nil {
		return err
	}
	a.setCookie(w, base, raw, ttl)
	return nil
}

// openSealed reads cookie base into v (a *loginState or *logoutState) and
// reports whether it is authentic and unexpired by the app's clock.
func (a *app) openSealed(r *http.Request, base string, v any) bool {
	c, err := r.Cookie(a.cookieName(base))
	if err != nil || a.sealer.open(base, c.Value, v) != nil {
		return false
	}
	var exp int64
	switch s := v.(type) {
	case *loginState:
		exp = s.Expires
	case *logoutState:
		exp = s.Expires
	}
	return a.cfg.Now().Unix() < exp
}

// idpContext bounds one exchange with idp and routes it through the
// configured HTTP client.
func (a *app) idpContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, idpCallTTL)
	return context.WithValue(ctx, oauth2.HTTPClient, a.cfg.HTTPClient), cancel
}

// origin returns scheme://host of u, or "".
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
