package server_test

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"idp/server/servertest"
)

// authorizeCase is one bad /authorize request. Errors found before the
// client and redirect_uri are known to be good are shown as a page and
// never redirected (RFC 6749 §4.1.2.1); the others go back to the client
// with error, state and iss (RFC 9207).
type authorizeCase struct {
	name    string
	method  string            // GET unless set; POST sends the parameters as a form
	client  string            // client_id; firstID (trusted) unless set
	set     map[string]string // changes to the default parameters ("" removes)
	raw     string            // appended to the encoded parameters (repeats)
	headers map[string]string
	status  int    // wanted status
	page    bool   // an HTML error page, never a redirect
	err     string // the error code redirected to the client
	code    bool   // the positive control: a code is issued
}

func TestAuthorizeBadRequests(t *testing.T) {
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	cases := []authorizeCase{
		{name: "control: a good request gets a code", status: 303, code: true},
		{name: "control: POST works too", method: http.MethodPost, status: 303, code: true},

		// Never redirected: the client or redirect_uri cannot be trusted.
		{name: "unknown client", client: "nope", status: 400, page: true},
		{name: "unknown client by POST", method: http.MethodPost, client: "nope", status: 400, page: true},
		{name: "missing client_id", set: map[string]string{"client_id": ""}, status: 400, page: true},
		{name: "unregistered redirect_uri", set: map[string]string{"redirect_uri": "https://evil.example/cb"}, status: 400, page: true},
		{name: "redirect_uri with a trailing slash", set: map[string]string{"redirect_uri": testRedirect + "/"}, status: 400, page: true},
		{name: "redirect_uri with an extra query", set: map[string]string{"redirect_uri": testRedirect + "?x=1"}, status: 400, page: true},
		{name: "missing redirect_uri", set: map[string]string{"redirect_uri": ""}, status: 400, page: true},
		{name: "repeated client_id", raw: "&client_id=" + webID, status: 400, page: true},
		{name: "repeated redirect_uri", raw: "&redirect_uri=" + url.QueryEscape(testRedirect), status: 400, page: true},
		{name: "repeated state", raw: "&state=other", status: 400, page: true},
		{name: "repeated response_mode", raw: "&response_mode=query&response_mode=form_post", status: 400, page: true},

		// Redirected to the client with state and iss.
		{name: "missing openid scope", set: map[string]string{"scope": "email profile"}, status: 303, err: "invalid_scope"},
		{name: "empty scope", set: map[string]string{"scope": ""}, status: 303, err: "invalid_scope"},
		{name: "scope the client may not ask", set: map[string]string{"scope": "openid idp:admin"}, status: 303, err: "invalid_scope"},
		{name: "scope with a forbidden character", set: map[string]string{"scope": "openid \"x\""}, status: 303, err: "invalid_scope"},
		{name: "public client without PKCE", client: spaID, status: 303, err: "invalid_request"},
		{name: "plain PKCE", set: map[string]string{"code_challenge": challenge, "code_challenge_method": "plain"}, status: 303, err: "invalid_request"},
		{name: "PKCE without a method (plain)", set: map[string]string{"code_challenge": challenge}, status: 303, err: "invalid_request"},
		{name: "public client with plain PKCE", client: spaID, set: map[string]string{"code_challenge": challenge, "code_challenge_method": "plain"}, status: 303, err: "invalid_request"},
		{name: "PKCE method without a challenge", set: map[string]string{"code_challenge_method": "S256"}, status: 303, err: "invalid_request"},
		{name: "malformed code_challenge", set: map[string]string{"code_challenge": "short", "code_challenge_method": "S256"}, status: 303, err: "invalid_request"},
		{name: "response_type token", set: map[string]string{"response_type": "token"}, status: 303, err: "unsupported_response_type"},
		{name: "response_type code id_token", set: map[string]string{"response_type": "code id_token"}, status: 303, err: "unsupported_response_type"},
		{name: "missing response_type", set: map[string]string{"response_type": ""}, status: 303, err: "invalid_request"},
		{name: "repeated scope", raw: "&scope=openid", status: 303, err: "invalid_request"},
		{name: "repeated nonce by POST", method: http.MethodPost, raw: "&nonce=again", status: 303, err: "invalid_request"},
		{name: "prompt none combined with login", set: map[string]string{"prompt": "none login"}, status: 303, err: "invalid_request"},
		{name: "prompt none combined with consent", set: map[string]string{"prompt": "consent none"}, status: 303, err: "invalid_request"},
		{name: "unknown prompt", set: map[string]string{"prompt": "always"}, status: 303, err: "invalid_request"},
		{name: "negative max_age", set: map[string]string{"max_age": "-1"}, status: 303, err: "invalid_request"},
		{name: "non-numeric max_age", set: map[string]string{"max_age": "ten"}, status: 303, err: "invalid_request"},
		{name: "fractional max_age", set: map[string]string{"max_age": "1.5"}, status: 303, err: "invalid_request"},
		{name: "huge max_age", set: map[string]string{"max_age": "99999999999999999999999"}, status: 303, err: "invalid_request"},
		{name: "unknown response_mode", set: map[string]string{"response_mode": "fragment"}, status: 303, err: "invalid_request"},
		{name: "request object", set: map[string]string{"request": "e30.e30."}, status: 303, err: "request_not_supported"},
		{name: "request_uri", set: map[string]string{"request_uri": "https://rp.example/r"}, status: 303, err: "request_uri_not_supported"},
		{name: "state too long", set: map[string]string{"state": strings.Repeat("s", 2049)}, status: 303, err: "invalid_request"},
		{name: "nonce too long", set: map[string]string{"nonce": strings.Repeat("n", 513)}, status: 303, err: "invalid_request"},
		{name: "relative resource", set: map[string]string{"resource": "/api"}, status: 303, err: "invalid_target"},
		{name: "resource with a fragment", set: map[string]string{"resource": "https://api.example/#x"}, status: 303, err: "invalid_target"},
	}
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	// A live session: a request that is wrongly accepted would be answered
	// with a code at once, which the row counts would show.
	signIn(t, env, b, testEmail, testPassword)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := tc.client
			if client == "" {
				client = firstID
			}
			u := authorizeURL(client, tc.set) + tc.raw
			req := newAuthorizeRequest(t, env.URL, tc.method, u)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			before := countRows(t, env)
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, page)
			}
			after := countRows(t, env)
			switch {
			case tc.code:
				loc := servertest.Location(t, resp)
				if loc.Query().Get("code") == "" || after.Codes != before.Codes+1 {
					t.Fatalf("control: no code in %s", loc)
				}
				return
			case tc.page:
				wantErrorPage(t, resp, page)
			default:
				wantRedirectError(t, env.URL, resp, tc.err)
			}
			if after != before {
				t.Errorf("state changed: before %+v, after %+v", before, after)
			}
		})
	}
}

// newAuthorizeRequest makes a GET of u, or a POST of its query as a form.
func newAuthorizeRequest(t *testing.T, base, method, u string) *http.Request {
	t.Helper()
	if method != http.MethodPost {
		req, err := http.NewRequest(http.MethodGet, base+u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	path, query, _ := strings.Cut(u, "?")
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantErrorPage checks a page shown to the user: HTML, no redirect, no
// code, no link back to the client.
func wantErrorPage(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Errorf("redirected to %s; must show a page", loc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want an HTML page", ct)
	}
	if strings.Contains(body, "evil.example") || strings.Contains(body, `"message"`) {
		t.Errorf("page leaks the redirect target or Echo's error: %.300s", body)
	}
	if !strings.Contains(body, "not valid") {
		t.Errorf("page does not explain the problem: %.300s", body)
	}
}

// wantRedirectError checks an error redirected to the client with state
// and iss (RFC 6749 §4.1.2.1, RFC 9207) and nothing else.
func wantRedirectError(t *testing.T, issuer string, resp *http.Response, code string) {
	t.Helper()
	loc := servertest.Location(t, resp)
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		t.Fatalf("redirected to %s, want the client's %s", loc, testRedirect)
	}
	if q.Get("error") != code || q.Get("error_description") == "" {
		t.Errorf("error %q (%q), want %q", q.Get("error"), q.Get("error_description"), code)
	}
	if q.Get("iss") != issuer {
		t.Errorf("iss %q, want %q", q.Get("iss"), issuer)
	}
	if q.Has("code") {
		t.Errorf("an error redirect carries a code: %s", loc)
	}
	if st := q.Get("state"); st != testState && !strings.HasPrefix(st, "sss") {
		t.Errorf("state %q, want %q", st, testState)
	}
}

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	nonceRE  = regexp.MustCompile(`<script nonce="([^"]+)">`)
)

// formPost reads a form_post response page: its action, hidden fields and
// script nonce, and checks the CSP lets exactly that script and form run.
func formPost(t *testing.T, resp *http.Response, body string) (action string, fields url.Values) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("form_post answer %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	m := actionRE.FindStringSubmatch(body)
	n := nonceRE.FindStringSubmatch(body)
	if m == nil || n == nil {
		t.Fatalf("no form or no nonce'd script: %.500s", body)
	}
	csp, nonce := resp.Header.Get("Content-Security-Policy"), html.UnescapeString(n[1])
	if !strings.Contains(csp, "script-src 'nonce-"+nonce+"'") {
		t.Errorf("CSP %q does not allow the page's script nonce %s", csp, nonce)
	}
	if !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9555;") {
		t.Errorf("CSP %q: form-action lacks the client origin", csp)
	}
	fields = url.Values{}
	for _, f := range hiddenRE.FindAllStringSubmatch(body, -1) {
		fields.Add(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), fields
}

func TestFormPostResponseMode(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)

	resp, page := env.Get(t, b, authorizeURL(firstID, map[string]string{"response_mode": "form_post"}))
	action, fields := formPost(t, resp, page.Body)
	if action != testRedirect {
		t.Errorf("form posts to %q, want %q", action, testRedirect)
	}
	if fields.Get("code") == "" || fields.Get("state") != testState || fields.Get("iss") != env.URL || len(fields) != 3 {
		t.Fatalf("form fields %v, want code, state and iss", fields)
	}
	if tok := f.exchange(t, firstID, fields.Get("code"), ""); tok.resp.StatusCode != http.StatusOK {
		t.Errorf("the posted code does not redeem: %s", tok.raw)
	}

	// Errors after the client is known travel the same way.
	before := countRows(t, env)
	resp, page = env.Get(t, b, authorizeURL(firstID, map[string]string{"response_mode": "form_post", "scope": "email"}))
	action, fields = formPost(t, resp, page.Body)
	if action != testRedirect || fields.Get("error") != "invalid_scope" || fields.Get("state") != testState ||
		fields.Get("iss") != env.URL || fields.Has("code") {
		t.Errorf("form_post error: %s %v", action, fields)
	}
	if after := countRows(t, env); after != before {
		t.Errorf("state changed: before %+v, after %+v", before, after)
	}
}

// TestResourceMayRepeat: RFC 8707 §2 lets resource repeat; the access
// token's audience is every named resource.
func TestResourceMayRepeat(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	u := authorizeURL(firstID, nil) + "&resource=" + url.QueryEscape("https://api.one.example") +
		"&resource=" + url.QueryEscape("https://api.two.example")
	res := walk(t, env, b, u, testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v %+v", res.loc, res.page)
	}
	tok := f.exchange(t, firstID, res.loc.Query().Get("code"), "")
	c, err := env.Tokens.VerifyAccessToken(context.Background(), tok.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Audience.Contains("https://api.one.example") || !c.Audience.Contains("https://api.two.example") || len(c.Audience) != 2 {
		t.Errorf("aud %v", c.Audience)
	}
}

// TestTextPostgresCannotStore: PostgreSQL text holds neither invalid UTF-8
// nor NUL (SQLite stores both), and RFC 6749 Appendix A limits state and
// the other parameters to printable characters anyway. Such input is a
// client mistake — a 4xx refusal, never a 500 from the database — on both
// dialects.
func TestTextPostgresCannotStore(t *testing.T) {
	f := newFixture(t)
	env := f.env
	lb := env.Browser(t) // holds a pending sign-in page and its CSRF cookie
	login := toLoginPage(t, env, lb, webID)
	form := func(kv ...string) string {
		v := url.Values{"csrf_token": {login.CSRF()}, "req": {login.RequestID()}, "email": {testEmail},
			"password": {testPassword}, "decision": {"allow"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	authz := func(k, v string) string {
		return strings.TrimPrefix(authorizeURL(webID, map[string]string{k: v}), "/authorize?")
	}
	cases := []struct {
		name, method, path, body, auth string
		status                         int
	}{
		{"authorize: client_id", "GET", "/authorize?" + authz("client_id", "\xff"), "", "", 400},
		{"authorize: NUL in client_id", "GET", "/authorize?" + authz("client_id", "a\x00"), "", "", 400},
		{"authorize: state", "GET", "/authorize?" + authz("state", "\xff"), "", "", 400},
		{"authorize: login_hint by POST", "POST", "/authorize", authz("login_hint", "\xff"), "", 400},
		{"authorize: NUL in nonce", "GET", "/authorize?" + authz("nonce", "n\x00"), "", "", 400},
		{"token: client_id", "POST", "/token", "grant_type=authorization_code&code=x&client_id=%FF", "", 400},
		{"token: code", "POST", "/token", "grant_type=authorization_code&code=%00&client_id=" + spaID, "", 400},
		{"token: Basic client id", "POST", "/token", "grant_type=authorization_code&code=x",
			"Basic " + base64.StdEncoding.EncodeToString([]byte("%FF:secret")), 401},
		{"login: email", "POST", "/login", form("email", "\xff@example.com"), "", 400},
		{"login: req", "POST", "/login", form("req", "\xff\x00"), "", 400},
		{"login page: req", "GET", "/login?req=%FF", "", "", 400},
		{"consent: req", "POST", "/consent", form("req", "\xff"), "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, env.URL+tc.path, strings.NewReader(tc.body))
			if tc.method == "POST" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			b := env.Browser(t)
			if strings.HasPrefix(tc.name, "login") || strings.HasPrefix(tc.name, "consent") {
				b = lb
			}
			before := countRows(t, env)
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %.200s", resp.StatusCode, tc.status, body)
			}
			if after := countRows(t, env); after != before {
				t.Errorf("state changed: before %+v, after %+v", before, after)
			}
		})
	}
}
