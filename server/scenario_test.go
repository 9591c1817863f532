package server_test

// Shared helpers of the scenario tables (STYLE.md §1.7): one provider with
// a fixed cast of users and clients, a browser walker that records which
// pages it saw, a token-endpoint caller, and row counts for the "nothing
// was issued, nothing changed" checks.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"idp/clients"
	"idp/resources"
	"idp/server/servertest"
	"idp/users"
)

// The cast of clients every fixture registers.
const (
	webID     = "web"         // confidential, asks for consent, may ask for idp:admin
	otherID   = "other"       // another confidential client, same redirect_uri
	spaID     = "spa"         // public: PKCE required
	firstID   = "first-party" // trusted: no consent page
	adminMail = "root@example.com"
	testState = "st4te"
)

// fixture is one running provider with the cast registered.
type fixture struct {
	env         *servertest.Env
	user, admin *users.User
	webSecret   string
	otherSecret string
	firstSecret string
	users       int // how many newUser made
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := servertest.New(t)
	f := &fixture{env: env}
	f.user = env.CreateUser(t, testEmail, testPassword, "staff")
	f.admin = env.CreateUser(t, adminMail, testPassword, "admin")
	redirect := []string{testRedirect}
	_, f.webSecret = env.CreateClient(t, clients.Spec{ID: webID, Name: "Web App", RedirectURIs: redirect,
		Scopes: []string{"openid", "profile", "email", "offline_access", "idp:admin"}})
	_, f.otherSecret = env.CreateClient(t, clients.Spec{ID: otherID, RedirectURIs: redirect})
	env.CreateClient(t, clients.Spec{ID: spaID, Public: true, RedirectURIs: redirect})
	_, f.firstSecret = env.CreateClient(t, clients.Spec{ID: firstID, Trusted: true, RedirectURIs: redirect})
	// The APIs the resource-indicator scenarios ask tokens for (RFC 8707);
	// https://api.other.example stays unregistered.
	for _, uri := range []string{"https://api.one.example", "https://api.two.example"} {
		env.CreateResource(t, resources.Spec{URI: uri, NoSecret: true})
	}
	return f
}

// newUser adds a user with a fresh email, for scenarios that must not
// share remembered consent or sessions, and returns the email.
func (f *fixture) newUser(t testing.TB) string {
	t.Helper()
	f.users++
	email := fmt.Sprintf("user%d@example.com", f.users)
	f.env.CreateUser(t, email, testPassword)
	return email
}

// secretOf returns the secret of a confidential client of the cast.
func (f *fixture) secretOf(clientID string) string {
	switch clientID {
	case webID:
		return f.webSecret
	case otherID:
		return f.otherSecret
	case firstID:
		return f.firstSecret
	}
	return ""
}

// authorizeURL builds an /authorize URL for clientID from sane defaults,
// changed by set: a key with an empty value is removed.
func authorizeURL(clientID string, set map[string]string) string {
	v := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {testRedirect},
		"scope": {"openid email"}, "state": {testState}, "nonce": {"n0nce"},
	}
	for k, x := range set {
		if x == "" {
			v.Del(k)
		} else {
			v.Set(k, x)
		}
	}
	return "/authorize?" + v.Encode()
}

// walkResult is where a browser ended up after an authorization request.
type walkResult struct {
	// loc is the redirect to the client, nil if the walk ended on a page.
	loc *url.URL
	// resp and page are the last response, e.g. a form_post page.
	resp *http.Response
	page *servertest.Page
	// pages lists the idp pages shown on the way ("/login", "/consent").
	pages []string
}

// walk runs a browser through an authorization request like
// servertest.Env.Authorize, but records the pages it had to fill in and
// also stops at a page that is not a redirect (form_post, errors).
func walk(t testing.TB, env *servertest.Env, b *http.Client, authURL, email, password string) walkResult {
	t.Helper()
	resp, page := env.Get(t, b, authURL)
	var res walkResult
	for range 8 {
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			res.resp, res.page = resp, page
			return res
		}
		loc := servertest.Location(t, resp)
		if !strings.HasPrefix(loc.String(), env.URL+"/") {
			res.loc, res.resp, res.page = loc, resp, page
			return res
		}
		resp, page = env.Get(t, b, loc.String())
		switch loc.Path {
		case "/login":
			res.pages = append(res.pages, "/login")
			resp, page = env.PostForm(t, b, "/login", url.Values{
				"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "email": {email}, "password": {password},
			})
		case "/consent":
			res.pages = append(res.pages, "/consent")
			resp, page = env.PostForm(t, b, "/consent", url.Values{
				"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "decision": {"allow"},
			})
		}
	}
	t.Fatalf("too many redirects from %s", authURL)
	return res
}

// code walks an authorization for clientID with the default user and
// returns the code it produced, failing the test otherwise.
func (f *fixture) code(t testing.TB, b *http.Client, clientID string, set map[string]string) string {
	t.Helper()
	res := walk(t, f.env, b, authorizeURL(clientID, set), testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("authorization for %s gave no code: %v %+v", clientID, res.loc, res.page)
	}
	return res.loc.Query().Get("code")
}

// signIn signs a browser in without an authorization request, so it holds
// a live session.
func signIn(t testing.TB, env *servertest.Env, b *http.Client, email, password string) {
	t.Helper()
	_, page := env.Get(t, b, "/login")
	resp, _ := env.PostForm(t, b, "/login", url.Values{
		"csrf_token": {page.CSRF()}, "email": {email}, "password": {password},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d", resp.StatusCode)
	}
}

// hasSessionCookie reports whether the browser holds idp's session cookie.
func hasSessionCookie(t testing.TB, env *servertest.Env, b *http.Client) bool {
	t.Helper()
	u, _ := url.Parse(env.URL)
	for _, c := range b.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "idp_session") && c.Value != "" {
			return true
		}
	}
	return false
}

// counts is how many rows each table of issued things holds.
type counts struct {
	Codes, UsedCodes, Requests, LoggedIn, Sessions, Consents, Revoked int64
}

func countRows(t testing.TB, env *servertest.Env) counts {
	t.Helper()
	g := env.DB.Gorm
	var c counts
	for _, q := range []struct {
		n     *int64
		table string
		where string
	}{
		{&c.Codes, "auth_codes", ""},
		{&c.UsedCodes, "auth_codes", "used_at IS NOT NULL"},
		{&c.Requests, "auth_requests", ""},
		{&c.LoggedIn, "auth_requests", "logged_in_at IS NOT NULL"},
		{&c.Sessions, "sessions", ""},
		{&c.Consents, "consents", ""},
		{&c.Revoked, "revoked_tokens", ""},
	} {
		tx := g.Table(q.table)
		if q.where != "" {
			tx = tx.Where(q.where)
		}
		if err := tx.Count(q.n).Error; err != nil {
			t.Fatalf("count %s: %v", q.table, err)
		}
	}
	return c
}

// tokenCall is one request to the token endpoint.
type tokenCall struct {
	form  url.Values
	basic [2]string // client id and secret for HTTP Basic, if set
	// raw and contentType replace the encoded form when raw is set.
	raw, contentType string
	headers          map[string]string
}

// tokenResult is a token endpoint answer with its JSON body decoded.
type tokenResult struct {
	resp *http.Response
	raw  []byte
	body map[string]any
}

func (r tokenResult) str(k string) string { s, _ := r.body[k].(string); return s }

func postToken(t testing.TB, env *servertest.Env, call tokenCall) tokenResult {
	t.Helper()
	body, ct := call.form.Encode(), "application/x-www-form-urlencoded"
	if call.raw != "" {
		body, ct = call.raw, call.contentType
	}
	req, err := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	if call.basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(call.basic[0]), url.QueryEscape(call.basic[1]))
	}
	for k, v := range call.headers {
		req.Header.Set(k, v)
	}
	return doJSON(t, req)
}

// doJSON sends req and decodes a JSON object answer (any status).
func doJSON(t testing.TB, req *http.Request) tokenResult {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := tokenResult{resp: resp, raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &res.body)
	}
	return res
}

// exchange redeems a code at the token endpoint with HTTP Basic.
func (f *fixture) exchange(t testing.TB, clientID, code, verifier string) tokenResult {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	call := tokenCall{form: form}
	if s := f.secretOf(clientID); s != "" {
		call.basic = [2]string{clientID, s}
	} else {
		form.Set("client_id", clientID)
	}
	return postToken(t, f.env, call)
}

// wantOAuthError checks an RFC 6749 §5.2 error answer: the status, JSON
// {error, error_description} (never Echo's {"message"}), no-store.
func wantOAuthError(t testing.TB, r tokenResult, status int, code string) {
	t.Helper()
	if r.resp.StatusCode != status {
		t.Errorf("status %d, want %d (%s)", r.resp.StatusCode, status, r.raw)
	}
	if ct := r.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	if cc := r.resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if r.str("error") != code {
		t.Errorf("error %q, want %q (%s)", r.str("error"), code, r.raw)
	}
	if _, ok := r.body["message"]; ok {
		t.Errorf("Echo's default error body leaked: %s", r.raw)
	}
	for k := range r.body {
		if k != "error" && k != "error_description" {
			t.Errorf("unexpected member %q in error body %s", k, r.raw)
		}
	}
}

// userinfo calls the UserInfo endpoint with a bearer token ("" for none).
func userinfo(t testing.TB, env *servertest.Env, token string) tokenResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, req)
}

// accessScope verifies an access token with idp's own verifier and
// returns its scope claim.
func accessScope(t testing.TB, env *servertest.Env, token string) string {
	t.Helper()
	c, err := env.Tokens.VerifyAccessToken(context.Background(), token)
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	return c.Scope
}

// decodeJWT decodes a JWT's payload into v without verifying it; the
// tests that use it verify the token elsewhere or do not care.
func decodeJWT(t *testing.T, token string, v any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	if err := json.Unmarshal([]byte(decodeSegment(t, parts[1])), v); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
}
