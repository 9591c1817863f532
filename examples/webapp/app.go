package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
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

// loginState is the pending sign-in, sealed in a cookie between /login
// and the callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// handleLogin starts the authorization code flow with PKCE S256, state and
// nonce.
func (a *app) handleLogin(w http.ResponseWriter, r *http.Request) {
	ls := loginState{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		Expires: a.cfg.Now().Add(loginTTL).Unix()}
	if err := a.setSealed(w, cookieLogin, ls, loginTTL); err != nil {
		a.fail(w, r, http.StatusInternalServerError, "could not start signing in", err)
		return
	}
	u := a.oauth.AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier),
		oauth2.SetAuthURLParam("nonce", ls.Nonce))
	http.Redirect(w, r, u, http.StatusFound)
}

// handleCallback finishes the sign-in: it checks state and iss, redeems the
// code, verifies both tokens and starts an app session.
func (a *app) handleCallback(w http.ResponseWriter, r *http.Request) {
	var ls loginState
	ok := a.openSealed(r, cookieLogin, &ls)
	a.clearCookie(w, cookieLogin) // single use, whatever happens next
	q := r.URL.Query()
	switch {
	case !ok:
		a.fail(w, r, http.StatusBadRequest, "this sign-in was not started here or took too long; please sign in again", nil)
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1:
		a.fail(w, r, http.StatusBadRequest, "the sign-in response does not belong to this browser; please sign in again", nil)
		return
	case (a.meta.IssParameter || q.Has("iss")) && q.Get("iss") != a.cfg.Issuer:
		// RFC 9207 §2.4: a response from another issuer (mix-up attack).
		a.fail(w, r, http.StatusBadRequest, "the sign-in response came from an unexpected issuer", nil)
		return
	case q.Get("error") != "":
		msg := "sign-in did not complete: " + q.Get("error")
		if d := q.Get("error_description"); d != "" {
			msg += " (" + d + ")"
		}
		a.fail(w, r, http.StatusForbidden, msg, nil)
		return
	case q.Get("code") == "":
		a.fail(w, r, http.StatusBadRequest, "the sign-in response has no code", nil)
		return
	}

	ctx, cancel := a.idpContext(r.Context())
	defer cancel()
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "idp did not accept the sign-in", err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	id, err := a.verifier.VerifyIDToken(ctx, rawID, ls.Nonce)
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "idp's ID token is not valid", err)
		return
	}
	at, err := a.verifier.VerifyAccessToken(ctx, tok.AccessToken)
	if err != nil || at.Subject != id.Subject {
		a.fail(w, r, http.StatusBadGateway, "idp's access token is not valid", err)
		return
	}

	// A fresh id for the signed-in state, never one the browser brought.
	if old := a.sessionOf(r); old != nil {
		a.endSession(ctx, old)
	}
	s := &session{
		id: rand.Text() + rand.Text(), csrf: rand.Text(), expires: a.cfg.Now().Add(a.cfg.SessionTTL),
		sub: id.Subject, email: id.Email, name: id.Name,
		idToken: rawID, accessToken: tok.AccessToken, refreshToken: tok.RefreshToken,
	}
	a.sessions.add(s)
	a.setCookie(w, cookieSession, s.id, a.cfg.SessionTTL)
	a.log.Info("signed in", "sub", s.sub, "refresh_token", s.refreshToken != "")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ---- the session on every request ----

// sessionOf returns the request's stored session, or nil.
func (a *app) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(a.cookieName(cookieSession))
	if err != nil {
		return nil
	}
	return a.sessions.get(c.Value)
}

// authenticate returns the signed-in user, after checking the session's
// access token with the verifier. An expired (or otherwise refused) access
// token is replaced by a refresh; if idp refuses the refresh token
// (revoked, expired, user disabled) the session is dropped and the result
// is errSignedOut. Other errors are idp or the network failing: the
// session is kept, to be tried again.
func (a *app) authenticate(w http.ResponseWriter, r *http.Request) (*user, error) {
	s := a.sessionOf(r)
	if s == nil {
		return nil, errSignedOut
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return nil, errSignedOut
	}
	claims, err := a.verifier.VerifyAccessToken(r.Context(), s.accessToken)
	if err == nil {
		return s.userOf(claims), nil
	}
	if !errors.Is(err, verifier.ErrInvalidToken) {
		return nil, err // e.g. the request ended while the JWKS was fetched
	}
	a.log.Debug("access token refused, refreshing", "sub", s.sub, "reason", err)
	claims, err = a.refresh(r.Context(), s)
	if errors.Is(err, errSignedOut) {
		a.sessions.remove(s.id)
		s.dropped = true
		a.clearCookie(w, cookieSession)
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	return s.userOf(claims), nil
}

// refresh redeems the session's refresh token; the caller holds s.mu. The
// call to idp is detached from the request: idp rotates the refresh token
// as soon as it answers, so a browser hanging up must not make the app
// miss the new one.
func (a *app) refresh(reqCtx context.Context, s *session) (*verifier.AccessClaims, error) {
	if s.refreshToken == "" {
		return nil, fmt.Errorf("%w: no refresh token (offline_access not granted)", errSignedOut)
	}
	ctx, cancel := a.idpContext(context.WithoutCancel(reqCtx))
	defer cancel()
	// A token with no access token is never valid, so the token source
	// goes straight to the refresh grant.
	tok, err := a.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: s.refreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			a.log.Info("refresh refused, session dropped", "sub", s.sub, "error", re.ErrorCode)
			return nil, fmt.Errorf("%w: %v", errSignedOut, err)
		}
		return nil, fmt.Errorf("refresh: %w", err)
	}
	// Keep the rotated refresh token at once: the old one is spent.
	if tok.RefreshToken != "" {
		s.refreshToken = tok.RefreshToken
	}
	claims, err := a.verifier.VerifyAccessToken(ctx, tok.AccessToken)
	if err == nil && claims.Subject != s.sub {
		err = fmt.Errorf("%w: refreshed token is for another subject", verifier.ErrInvalidToken)
	}
	if err != nil {
		if errors.Is(err, verifier.ErrInvalidToken) {
			return nil, fmt.Errorf("%w: refreshed access token: %v", errSignedOut, err)
		}
		return nil, err
	}
	s.accessToken = tok.AccessToken
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		// OIDC Core §12.2: same iss and sub; no nonce to compare.
		if id, err := a.verifier.VerifyIDToken(ctx, raw, ""); err == nil && id.Subject == s.sub {
			s.idToken = raw
			if id.Email != "" {
				s.email = id.Email
			}
			if id.Name != "" {
				s.name = id.Name
			}
		} else {
			a.log.Warn("refreshed ID token ignored", "sub", s.sub, "error", err)
		}
	}
	a.log.Info("tokens refreshed", "sub", s.sub)
	return claims, nil
}

// ---- sign-out ----

// logoutState is the pending sign-out, sealed in a cookie until idp sends
// the browser back with state.
type logoutState struct {
	State   string `json:"s"`
	Expires int64  `json:"e"`
}

// handleLogout ends the app session and sends the browser to idp's
// end_session_endpoint so the SSO session ends too (OIDC RP-Initiated
// Logout 1.0).
func (a *app) handleLogout(w http.ResponseWriter, r *http.Request) {
	s := a.sessionOf(r)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != origin(a.cfg.RedirectURL) {
		a.fail(w, r, http.StatusForbidden, "cross-site sign-out refused", nil)
		return
	}
	s.mu.Lock()
	csrf := s.csrf
	s.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf_token")), []byte(csrf)) != 1 {
		a.fail(w, r, http.StatusForbidden, "the sign-out form has expired; reload the page and try again", nil)
		return
	}
	ctx, cancel := a.idpContext(context.WithoutCancel(r.Context()))
	defer cancel()
	idToken := a.endSession(ctx, s)
	a.clearCookie(w, cookieSession)
	a.log.Info("signed out", "sub", s.sub)
	if a.meta.EndSessionEndpoint == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	ls := logoutState{State: rand.Text(), Expires: a.cfg.Now().Add(loginTTL).Unix()}
	if err := a.setSealed(w, cookieLogout, ls, loginTTL); err != nil {
		a.fail(w, r, http.StatusInternalServerError, "could not sign out at idp", err)
		return
	}
	u, err := url.Parse(a.meta.EndSessionEndpoint)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "could not sign out at idp", err)
		return
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", a.cfg.ClientID)
	q.Set("post_logout_redirect_uri", a.cfg.PostLogoutRedirectURL)
	q.Set("state", ls.State)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// endSession removes s and revokes its refresh token at idp, so the
// tokens this app held die with the session. It returns the ID token, for
// id_token_hint.
func (a *app) endSession(ctx context.Context, s *session) string {
	a.sessions.remove(s.id)
	s.mu.Lock()
	s.dropped = true
	idToken, refresh := s.idToken, s.refreshToken
	s.mu.Unlock()
	if refresh != "" && a.meta.RevocationEndpoint != "" {
		if err := a.revoke(ctx, refresh); err != nil {
			a.log.Warn("revoking the refresh token failed", "sub", s.sub, "error", err)
		}
	}
	return idToken
}

// revoke revokes a refresh token (RFC 7009), authenticating like the token
// endpoint.
func (a *app) revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	if a.oauth.Endpoint.AuthStyle == oauth2.AuthStyleInParams {
		form.Set("client_id", a.cfg.ClientID)
		form.Set("client_secret", a.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.meta.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a.oauth.Endpoint.AuthStyle == oauth2.AuthStyleInHeader {
		// RFC 6749 §2.3.1: form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(a.cfg.ClientID), url.QueryEscape(a.cfg.ClientSecret))
	}
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// signedOutReturn reports whether the request is idp's redirect after
// sign-out carrying the state this browser was given, and forgets it.
func (a *app) signedOutReturn(w http.ResponseWriter, r *http.Request) bool {
	st := r.URL.Query().Get("state")
	if st == "" {
		return false
	}
	var ls logoutState
	if !a.openSealed(r, cookieLogout, &ls) {
		return false
	}
	a.clearCookie(w, cookieLogout)
	return subtle.ConstantTimeCompare([]byte(st), []byte(ls.State)) == 1
}

// ---- pages ----

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
