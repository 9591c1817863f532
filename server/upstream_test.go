package server_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
	"idp/upstreams"
)

// Federation tests (issue #18) use a real second idp as the upstream: b
// is the upstream, a the provider under test, and a relying party of a's
// signs in through "Continue with Corp".

const (
	fedEmail    = "grace@corp.example"
	fedPassword = "violet tangerine lighthouse 42"
)

type fed struct {
	a, b *servertest.Env
	rp   *rp
	br   *http.Client
	log  *lockedBuffer // a's log: why a response was refused
}

// lockedBuffer is a log sink the server's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newFed starts both providers, registers a at b (redirect URI: a's
// callback for upstream "corp"), the upstream at a with spec's rules, and
// a trusted relying party at a.
func newFed(t *testing.T, spec upstreams.Spec) *fed {
	t.Helper()
	logs := &lockedBuffer{}
	b := servertest.New(t)
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	_, secret := b.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true,
		RedirectURIs: []string{a.URL + upstreams.CallbackPath("corp")}})
	spec.ID, spec.Name, spec.Issuer, spec.ClientID, spec.Secret = "corp", "Corp", b.URL, "idp-a", secret
	spec.Scopes = []string{"email", "profile"}
	if _, err := a.App.Upstreams.Create(context.Background(), spec); err != nil {
		t.Fatalf("create upstream: %v", err)
	}
	return &fed{a: a, b: b, rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), br: a.Browser(t), log: logs}
}

var upstreamButtonRE = regexp.MustCompile(`id="upstream-corp" href="([^"]*)"`)

// toCallback drives the browser from the RP's authorization request to
// the sign-in page, through "Continue with Corp" and the sign-in at b,
// and returns the URL b sends the browser back to (a's callback), not
// yet followed.
func (f *fed) toCallback(t *testing.T, email, password string) *url.URL {
	t.Helper()
	authURL := f.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce"))
	resp, _ := f.a.Get(t, f.br, authURL)
	_, page := f.a.Get(t, f.br, servertest.Location(t, resp).String())
	m := upstreamButtonRE.FindStringSubmatch(page.Body)
	if m == nil || !strings.Contains(page.Body, "Continue with Corp") {
		t.Fatalf("no Continue with Corp button on %s: %.600s", page.URL, page.Body)
	}
	resp, page = f.a.Get(t, f.br, html.UnescapeString(m[1]))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d %.300s", resp.StatusCode, page.Body)
	}
	up := servertest.Location(t, resp)
	if !strings.HasPrefix(up.String(), f.b.URL+"/") || up.Query().Get("code_challenge_method") != "S256" ||
		up.Query().Get("nonce") == "" || up.Query().Get("state") == "" {
		t.Fatalf("upstream authorization request %s lacks PKCE, nonce or state", up)
	}
	return f.b.Authorize(t, f.br, up.String(), email, password)
}

// finish follows the callback to the RP's redirect and redeems its code,
// returning the verified ID token claims of a.
func (f *fed) finish(t *testing.T, cb *url.URL) map[string]any {
	t.Helper()
	loc := f.a.Authorize(t, f.br, cb.String(), "", "")
	if loc.Query().Get("state") != "st4te" {
		t.Fatalf("RP redirect %s lacks the state", loc)
	}
	return f.exchange(t, loc)
}

// exchange redeems the code of the RP redirect loc and returns the
// verified ID token claims of a.
func (f *fed) exchange(t *testing.T, loc *url.URL) map[string]any {
	t.Helper()
	if loc.Query().Get("code") == "" {
		t.Fatalf("RP redirect %s lacks a code", loc)
	}
	ctx := context.Background()
	tok, err := f.rp.conf.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.rp.provider.Verifier(&oidc.Config{ClientID: "rp"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// refused follows the callback and expects a page with status and words,
// and the operator's log line to give the reason why.
func (f *fed) refused(t *testing.T, cb *url.URL, status int, words, why string) {
	t.Helper()
	resp, page := f.a.Get(t, f.br, cb.String())
	if resp.StatusCode != status || !strings.Contains(html.UnescapeString(page.Body), words) {
		t.Fatalf("callback: %d, want %d with %q: %.800s", resp.StatusCode, status, words, page.Body)
	}
	if log := f.log.String(); !strings.Contains(log, "upstream sign-in failed") || !strings.Contains(log, why) {
		t.Errorf("log lacks the failure and %q:\n%s", why, log)
	}
}

// countLinks and countUsers check that a refusal made nothing.
func (f *fed) counts(t *testing.T) (usersN, links int) {
	t.Helper()
	var n int64
	if err := f.a.DB.Gorm.Table("users").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	var l int64
	if err := f.a.DB.Gorm.Table("upstream_links").Count(&l).Error; err != nil {
		t.Fatal(err)
	}
	return int(n), int(l)
}

func TestUpstreamJITCreatesUser(t *testing.T) {
	f := newFed(t, upstreams.Spec{JIT: true})
	upstreamUser := f.b.CreateUser(t, fedEmail, fedPassword)
	claims := f.finish(t, f.toCallback(t, fedEmail, fedPassword))
	user, err := f.a.Users.Store().ByEmail(context.Background(), fedEmail)
	if err != nil {
		t.Fatalf("no user made: %v", err)
	}
	if claims["sub"] != user.ID || user.ID == upstreamUser.ID {
		t.Errorf("sub %v, want a's own user id %s (not b's %s)", claims["sub"], user.ID, upstreamUser.ID)
	}
	if !slices.Contains(amrOf(claims), "fed") {
		t.Errorf("amr %v lacks fed", claims["amr"])
	}
	if _, links := f.counts(t); links != 1 {
		t.Errorf("%d links, want 1", links)
	}
	// The second sign-in uses the link and makes nothing new.
	f.br = f.a.Browser(t)
	claims = f.finish(t, f.toCallback(t, fedEmail, fedPassword))
	if n, links := f.counts(t); claims["sub"] != user.ID || links != 1 || n != 1 {
		t.Errorf("second sign-in: sub %v, %d users, %d links", claims["sub"], n, links)
	}
}

func TestUpstreamLinkByVerifiedEmail(t *testing.T) {
	f := newFed(t, upstreams.Spec{LinkByEmail: true})
	ctx := context.Background()
	local := f.a.CreateUser(t, fedEmail, "marble orchestra pinecone 7")
	up := f.b.CreateUser(t, fedEmail, fedPassword)

	// Not verified at the upstream: refused, nothing linked.
	f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusConflict, "already exists", "did not say email_verified")
	if _, links := f.counts(t); links != 0 {
		t.Fatalf("%d links after a refusal", links)
	}
	if err := f.b.Users.Store().SetEmailVerified(ctx, up.ID, up.Email); err != nil {
		t.Fatal(err)
	}
	f.br = f.a.Browser(t)
	claims := f.finish(t, f.toCallback(t, fedEmail, fedPassword))
	if claims["sub"] != local.ID {
		t.Errorf("sub %v, want the existing user %s", claims["sub"], local.ID)
	}
	if _, links := f.counts(t); links != 1 {
		t.Errorf("%d links, want 1", links)
	}
}

func TestUpstreamRefusals(t *testing.T) {
	t.Run("existing account without --link-by-email", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true})
		f.a.CreateUser(t, fedEmail, "marble orchestra pinecone 7")
		up := f.b.CreateUser(t, fedEmail, fedPassword)
		_ = f.b.Users.Store().SetEmailVerified(context.Background(), up.ID, up.Email)
		f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusConflict, "Sign in to that account with your password", "--link-by-email is off")
		if n, links := f.counts(t); n != 1 || links != 0 {
			t.Errorf("%d users, %d links after a refusal", n, links)
		}
	})
	t.Run("no account and no --jit", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{})
		f.b.CreateUser(t, fedEmail, fedPassword)
		f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusForbidden, "You have no account here", "--jit is off")
		if n, links := f.counts(t); n != 0 || links != 0 {
			t.Errorf("%d users, %d links after a refusal", n, links)
		}
	})
	t.Run("outside the allowed domains", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true, AllowedDomains: []string{"other.example"}})
		f.b.CreateUser(t, fedEmail, fedPassword)
		f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusForbidden, "cannot sign in here", "outside the allowed domains")
		if n, links := f.counts(t); n != 0 || links != 0 {
			t.Errorf("%d users, %d links after a refusal", n, links)
		}
	})
	t.Run("without the required group", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true, Claims: upstreams.ClaimMapping{RolesClaim: "amr", RequiredGroup: "otp"}})
		f.b.CreateUser(t, fedEmail, fedPassword)
		f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusForbidden, "cannot sign in here", "not in group")
		if n, links := f.counts(t); n != 0 || links != 0 {
			t.Errorf("%d users, %d links after a refusal", n, links)
		}
	})
}

// TestUpstreamRolesFromClaim maps an array claim to roles. idp as an
// upstream puts no groups in its ID tokens, so the test maps amr (["pwd"]
// after a password sign-in) with a prefix filter.
func TestUpstreamRolesFromClaim(t *testing.T) {
	f := newFed(t, upstreams.Spec{JIT: true, Claims: upstreams.ClaimMapping{RolesClaim: "amr", RolesPrefix: "p", RequiredGroup: "pwd"}})
	f.b.CreateUser(t, fedEmail, fedPassword)
	f.finish(t, f.toCallback(t, fedEmail, fedPassword))
	user, err := f.a.Users.Store().ByEmail(context.Background(), fedEmail)
	if err != nil || !slices.Equal(user.Roles, []string{"wd"}) {
		t.Fatalf("roles %v, %v; want [wd]", user.Roles, err)
	}
}

func TestUpstreamForgedResponses(t *testing.T) {
	t.Run("replayed state", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true})
		f.b.CreateUser(t, fedEmail, fedPassword)
		cb := f.toCallback(t, fedEmail, fedPassword)
		state := f.stateCookie(t)
		f.finish(t, cb)
		// The same response again, even with the state cookie put back.
		f.setStateCookie(t, state)
		f.refused(t, cb, http.StatusBadRequest, "could not be completed", "unknown, used or expired state")
	})
	t.Run("another browser", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true})
		f.b.CreateUser(t, fedEmail, fedPassword)
		cb := f.toCallback(t, fedEmail, fedPassword)
		f.br = f.a.Browser(t) // the victim's browser, without the state cookie
		f.refused(t, cb, http.StatusBadRequest, "could not be completed", "not this browser's")
		if n, links := f.counts(t); n != 0 || links != 0 {
			t.Errorf("%d users, %d links", n, links)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true})
		f.b.CreateUser(t, fedEmail, fedPassword)
		cb := f.toCallback(t, fedEmail, fedPassword)
		// The ID token carries the nonce a sent; a now expects another.
		if err := f.a.DB.Gorm.Exec("UPDATE upstream_states SET nonce = 'tampered'").Error; err != nil {
			t.Fatal(err)
		}
		f.refused(t, cb, http.StatusBadRequest, "could not be completed", "nonce")
		if n, links := f.counts(t); n != 0 || links != 0 {
			t.Errorf("%d users, %d links", n, links)
		}
	})
	t.Run("wrong iss in the authorization response", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true})
		f.b.CreateUser(t, fedEmail, fedPassword)
		cb := f.toCallback(t, fedEmail, fedPassword)
		q := cb.Query()
		if q.Get("iss") != f.b.URL {
			t.Fatalf("upstream sent iss %q", q.Get("iss"))
		}
		q.Set("iss", "https://evil.example")
		cb.RawQuery = q.Encode()
		f.refused(t, cb, http.StatusBadRequest, "could not be completed", "in the authorization response is not")
		if n, links := f.counts(t); n != 0 || links != 0 {
			t.Errorf("%d users, %d links", n, links)
		}
	})
	t.Run("error from the upstream", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{JIT: true})
		f.b.CreateUser(t, fedEmail, fedPassword)
		cb := f.toCallback(t, fedEmail, fedPassword)
		q := url.Values{"state": {cb.Query().Get("state")}, "iss": {f.b.URL}, "error": {"access_denied"}}
		cb.RawQuery = q.Encode()
		f.refused(t, cb, http.StatusForbidden, "was cancelled", "access_denied")
	})
}

// stateCookie is the upstream state cookie a's callback expects.
func (f *fed) stateCookie(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(f.a.URL)
	for _, c := range f.br.Jar.Cookies(u) {
		if c.Name == "idp_upstream" {
			return c.Value
		}
	}
	t.Fatal("no idp_upstream cookie")
	return ""
}

func (f *fed) setStateCookie(t *testing.T, v string) {
	t.Helper()
	u, _ := url.Parse(f.a.URL)
	f.br.Jar.SetCookies(u, []*http.Cookie{{Name: "idp_upstream", Value: v, Path: "/"}})
}

// TestUpstreamIDPHint: idp_hint (and kc_idp_hint) naming an upstream skip
// the sign-in page; an unknown hint shows it as usual.
func TestUpstreamIDPHint(t *testing.T) {
	f := newFed(t, upstreams.Spec{JIT: true})
	f.b.CreateUser(t, fedEmail, fedPassword)
	for _, param := range []string{"idp_hint", "kc_idp_hint"} {
		authURL := f.rp.conf.AuthCodeURL("st4te", oauth2.SetAuthURLParam(param, "corp"))
		resp, _ := f.a.Get(t, f.br, authURL)
		resp, _ = f.a.Get(t, f.br, servertest.Location(t, resp).String())
		if up := servertest.Location(t, resp); !strings.HasPrefix(up.String(), f.a.URL+"/login/upstream/corp?req=") {
			t.Fatalf("%s: sent to %s", param, up)
		}
	}
	// A pushed request (RFC 9126) carries the hint among its parameters;
	// the /authorize query then holds only client_id and request_uri.
	pe := &parEnv{env: f.a}
	form := authzParams("a-verifier-of-at-least-forty-three-characters-long")
	form.Set("idp_hint", "corp")
	status, body, _ := pe.push(t, f.rp.conf.ClientID, f.rp.conf.ClientSecret, form)
	if status != http.StatusCreated {
		t.Fatalf("push: %d %v", status, body)
	}
	resp, _ := f.a.Get(t, f.br, pe.authorizeURL(f.rp.conf.ClientID, body["request_uri"].(string)))
	resp, _ = f.a.Get(t, f.br, servertest.Location(t, resp).String())
	if up := servertest.Location(t, resp); !strings.HasPrefix(up.String(), f.a.URL+"/login/upstream/corp?req=") {
		t.Fatalf("pushed hint: sent to %s", up)
	}
	authURL := f.rp.conf.AuthCodeURL("st4te", oauth2.SetAuthURLParam("idp_hint", "nobody"))
	resp, _ = f.a.Get(t, f.br, authURL)
	if resp, page := f.a.Get(t, f.br, servertest.Location(t, resp).String()); resp.StatusCode != http.StatusOK ||
		!strings.Contains(page.Body, "Continue with Corp") {
		t.Fatalf("unknown hint: %d", resp.StatusCode)
	}
	// The hinted path ends like the button's.
	authURL = f.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce"), oauth2.SetAuthURLParam("idp_hint", "corp"))
	resp, _ = f.a.Get(t, f.br, authURL)
	resp, _ = f.a.Get(t, f.br, servertest.Location(t, resp).String())
	resp, _ = f.a.Get(t, f.br, servertest.Location(t, resp).String())
	cb := f.b.Authorize(t, f.br, servertest.Location(t, resp).String(), fedEmail, fedPassword)
	if claims := f.finish(t, cb); !slices.Contains(amrOf(claims), "fed") {
		t.Fatalf("amr %v", claims["amr"])
	}
}

// TestUpstreamOnlyWithoutPasswordLogin: --password-login=false shows no
// password form and refuses a password posted anyway; the upstream still
// signs people in.
func TestUpstreamOnlyWithoutPasswordLogin(t *testing.T) {
	b := servertest.New(t)
	a := servertest.New(t, func(c *server.Config) { c.NoPasswordLogin = true })
	_, secret := b.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true, RedirectURIs: []string{a.URL + upstreams.CallbackPath("corp")}})
	if _, err := a.App.Upstreams.Create(context.Background(), upstreams.Spec{ID: "corp", Name: "Corp", Issuer: b.URL,
		ClientID: "idp-a", Secret: secret, Scopes: []string{"email"}, JIT: true}); err != nil {
		t.Fatal(err)
	}
	a.CreateUser(t, testEmail, testPassword)
	b.CreateUser(t, fedEmail, fedPassword)
	f := &fed{a: a, b: b, rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), br: a.Browser(t), log: &lockedBuffer{}}
	resp, _ := a.Get(t, f.br, f.rp.conf.AuthCodeURL("st4te"))
	_, page := a.Get(t, f.br, servertest.Location(t, resp).String())
	if strings.Contains(page.Body, `name="password"`) || !strings.Contains(page.Body, "Continue with Corp") {
		t.Fatalf("sign-in page: %.800s", page.Body)
	}
	resp, _ = a.PostForm(t, f.br, "/login", url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()},
		"email": {testEmail}, "password": {testPassword}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("password posted anyway: %d", resp.StatusCode)
	}
	if claims := f.finish(t, f.toCallback(t, fedEmail, fedPassword)); !slices.Contains(amrOf(claims), "fed") {
		t.Fatalf("amr %v", claims["amr"])
	}
}

// TestUpstreamAMRCarried: the ID token a relying party gets after a
// federated sign-in has amr fed and, after it, the methods the upstream
// says it used (here b's password sign-in: pwd).
func TestUpstreamAMRCarried(t *testing.T) {
	f := newFed(t, upstreams.Spec{JIT: true})
	f.b.CreateUser(t, fedEmail, fedPassword)
	if amr := amrOf(f.finish(t, f.toCallback(t, fedEmail, fedPassword))); !slices.Equal(amr, []string{"fed", "pwd"}) {
		t.Fatalf("amr %v, want [fed pwd]", amr)
	}
}

// TestUpstreamLoginHintRealm: a login_hint whose domain is an upstream's
// (its allowed domains) goes straight to that upstream once (home realm
// discovery); another domain, a domain two upstreams claim, or the
// sign-in page reached again show the choice, with the hint filled in.
func TestUpstreamLoginHintRealm(t *testing.T) {
	f := newFed(t, upstreams.Spec{JIT: true, AllowedDomains: []string{"corp.example"}})
	f.b.CreateUser(t, fedEmail, fedPassword)
	toLogin := func(hint string) *url.URL {
		t.Helper()
		resp, _ := f.a.Get(t, f.br, f.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce"), oauth2.SetAuthURLParam("login_hint", hint)))
		return servertest.Location(t, resp)
	}
	login := toLogin(fedEmail)
	resp, _ := f.a.Get(t, f.br, login.String())
	if up := servertest.Location(t, resp); !strings.HasPrefix(up.String(), f.a.URL+"/login/upstream/corp?req=") {
		t.Fatalf("hint %s: sent to %s", fedEmail, up)
	}
	// Coming back to the sign-in page (without the one-time mark) shows it.
	again := *login
	q := again.Query()
	q.Del("realm")
	again.RawQuery = q.Encode()
	if resp, page := f.a.Get(t, f.br, again.String()); resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Continue with Corp") {
		t.Fatalf("the sign-in page reached again: %d", resp.StatusCode)
	}
	// The hinted path ends like the button's.
	resp, _ = f.a.Get(t, f.br, login.String())
	resp, _ = f.a.Get(t, f.br, servertest.Location(t, resp).String())
	cb := f.b.Authorize(t, f.br, servertest.Location(t, resp).String(), fedEmail, fedPassword)
	if claims := f.finish(t, cb); !slices.Contains(amrOf(claims), "fed") {
		t.Fatalf("amr %v", claims["amr"])
	}

	f.br = f.a.Browser(t) // signed out again
	resp, page := f.a.Get(t, f.br, toLogin("someone@elsewhere.example").String())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, `value="someone@elsewhere.example"`) {
		t.Fatalf("another domain: %d %.300s", resp.StatusCode, page.Body)
	}
	// A second upstream claiming the domain: the person chooses.
	if _, err := f.a.App.Upstreams.Create(context.Background(), upstreams.Spec{ID: "corp2", Name: "Corp two", Issuer: f.b.URL,
		ClientID: "idp-a", AllowedDomains: []string{"corp.example"}}); err != nil {
		t.Fatal(err)
	}
	if resp, page := f.a.Get(t, f.br, toLogin(fedEmail).String()); resp.StatusCode != http.StatusOK ||
		!strings.Contains(page.Body, "Continue with Corp two") {
		t.Fatalf("two upstreams for the domain: %d", resp.StatusCode)
	}
}
