package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

const (
	testEmail    = "ada@example.com"
	testPassword = "correct horse battery staple"
)

// fixture is idp (servertest, access tokens of one minute) and the web app
// registered at it as a trusted confidential client, both on httptest.
type fixture struct {
	env     *servertest.Env
	app     *app
	url     string // the app's base URL
	secret  string
	browser *http.Client
	// tokenCalls counts the app's requests to idp's token endpoint.
	tokenCalls atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{env: servertest.New(t, func(c *server.Config) { c.AccessTokenTTL = time.Minute })}
	f.env.CreateUser(t, testEmail, testPassword, "staff")

	// The app's URL must exist before the client is registered, and the
	// registration before the app: start the listener first.
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL

	client, secret := f.env.CreateClient(t, clients.Spec{
		ID: "webapp", Name: "Example web app", Trusted: true, // default scopes include offline_access
		RedirectURIs: []string{f.url + "/callback"}, PostLogoutRedirectURIs: []string{f.url + "/"},
	})
	f.secret = secret
	h, err := newApp(Config{
		Issuer: f.env.URL, ClientID: client.ID, ClientSecret: secret, RedirectURL: f.url + "/callback",
		Now:        f.env.Clock.Now, // the verifier's clock is idp's
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: countTokenCalls(&f.tokenCalls)},
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	handler.Store(&h)
	f.app = h.(*app)
	f.browser = f.env.Browser(t)
	return f
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func countTokenCalls(n *atomic.Int64) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && r.URL.Path == "/token" {
			n.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

// response is one fetched hop.
type response struct {
	*http.Response
	body string
}

// do sends req with the browser, without following redirects.
func (f *fixture) do(t *testing.T, req *http.Request) *response {
	t.Helper()
	resp, err := f.browser.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Response: resp, body: string(b)}
}

func (f *fixture) get(t *testing.T, u string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.do(t, req)
}

func (f *fixture) post(t *testing.T, u string, form url.Values) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(t, req)
}

// location is a redirect's target.
func location(t *testing.T, r *response) *url.URL {
	t.Helper()
	if r.StatusCode < 300 || r.StatusCode > 399 {
		t.Fatalf("%s %s: want a redirect, got %d: %.300s", r.Request.Method, r.Request.URL, r.StatusCode, r.body)
	}
	u, err := r.Request.URL.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// follow GETs redirects from r until a response that is not one, and
// returns it with every URL visited on the way.
func (f *fixture) follow(t *testing.T, r *response) (*response, []*url.URL) {
	t.Helper()
	var hops []*url.URL
	for i := 0; r.StatusCode >= 300 && r.StatusCode <= 399; i++ {
		if i == 10 {
			t.Fatal("too many redirects")
		}
		u := location(t, r)
		hops = append(hops, u)
		r = f.get(t, u.String())
	}
	return r, hops
}

var (
	csrfRE  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	reqRE   = regexp.MustCompile(`name="req" value="([^"]*)"`)
	emailRE = regexp.MustCompile(`<strong id="email">([^<]*)</strong>`)
)

func hidden(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page: %.500s", re, body)
	}
	return m[1]
}

// signIn goes through the whole sign-in as a browser: app /login, idp
// /authorize, idp's sign-in page, the callback, the app's home page.
func (f *fixture) signIn(t *testing.T) {
	t.Helper()
	r := f.get(t, f.url+"/login")
	auth := location(t, r)
	q := auth.Query()
	if !strings.HasPrefix(auth.String(), f.env.URL+"/") || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("scope") != "openid email profile offline_access" || q.Get("client_id") != "webapp" {
		t.Fatalf("authorization request %s", auth)
	}
	checkCookie(t, r.Response, cookieLogin)

	page, hops := f.follow(t, r)
	if page.StatusCode != http.StatusOK || page.Request.URL.Path != "/login" || !strings.HasPrefix(page.Request.URL.String(), f.env.URL) {
		t.Fatalf("want idp's sign-in page, got %d at %s (via %v)", page.StatusCode, page.Request.URL, hops)
	}
	r = f.post(t, f.env.URL+"/login", url.Values{
		"csrf_token": {hidden(t, csrfRE, page.body)}, "req": {hidden(t, reqRE, page.body)},
		"email": {testEmail}, "password": {testPassword},
	})
	home, hops := f.follow(t, r)
	var callback *url.URL
	for _, h := range hops {
		if strings.HasPrefix(h.String(), f.url+"/callback?") {
			callback = h
		}
	}
	if callback == nil {
		t.Fatalf("never reached the app's callback: %v", hops)
	}
	if cq := callback.Query(); cq.Get("state") != q.Get("state") || cq.Get("iss") != f.env.URL || cq.Get("code") == "" {
		t.Fatalf("callback %s lacks state, iss or code", callback)
	}
	if home.StatusCode != http.StatusOK || home.Request.URL.String() != f.url+"/" {
		t.Fatalf("after sign-in: %d at %s: %.500s", home.StatusCode, home.Request.URL, home.body)
	}
	if got := hidden(t, emailRE, home.body); got != testEmail || !strings.Contains(home.body, "Sign out") {
		t.Fatalf("home page shows %q: %.500s", got, home.body)
	}
}

// checkCookie asserts the response sets cookie name HttpOnly and Lax.
func checkCookie(t *testing.T, resp *http.Response, name string) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
				t.Errorf("cookie %s: %+v", name, c)
			}
			return
		}
	}
	t.Errorf("response sets no %s cookie", name)
}

// session returns the browser's app session, or nil.
func (f *fixture) session(t *testing.T) *session {
	t.Helper()
	u, _ := url.Parse(f.url)
	for _, c := range f.browser.Jar.Cookies(u) {
		if c.Name == cookieSession {
			return f.app.sessions.get(c.Value)
		}
	}
	return nil
}

// tokens returns the session's access and refresh tokens.
func (f *fixture) tokens(t *testing.T) (access, refresh string) {
	t.Helper()
	s := f.session(t)
	if s == nil {
		t.Fatal("no app session")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accessToken, s.refreshToken
}

// me calls the protected API and returns its status and user.
func (f *fixture) me(t *testing.T) (int, user) {
	t.Helper()
	r := f.get(t, f.url+"/api/me")
	var u user
	if r.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &u); err != nil {
			t.Fatalf("/api/me: %v: %s", err, r.body)
		}
	}
	return r.StatusCode, u
}

// authorizeNone asks idp for a silent sign-in (prompt=none) for the app
// and returns idp's redirect to the callback.
func (f *fixture) authorizeNone(t *testing.T) url.Values {
	t.Helper()
	q := url.Values{"client_id": {"webapp"}, "redirect_uri": {f.url + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"silent"}, "prompt": {"none"}}
	loc := location(t, f.get(t, f.app.meta.AuthorizationEndpoint+"?"+q.Encode()))
	if !strings.HasPrefix(loc.String(), f.url+"/callback?") {
		t.Fatalf("prompt=none redirected to %s", loc)
	}
	return loc.Query()
}

// refreshAtIdP redeems a refresh token at idp directly, as the app would.
func (f *fixture) refreshAtIdP(t *testing.T, refresh string) error {
	t.Helper()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	_, err := f.app.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh}).Token()
	return err
}

// TestLifecycle: sign in, use the API, silent refresh past the access
// token's expiry, sign out at the app and at idp.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	if code, _ := f.me(t); code != http.StatusUnauthorized {
		t.Fatalf("/api/me before sign-in: %d", code)
	}
	if r := f.get(t, f.url+"/"); !strings.Contains(r.body, `href="/login"`) || strings.Contains(r.body, "Sign out") {
		t.Fatalf("signed-out home page: %.500s", r.body)
	}

	f.signIn(t)
	code, me := f.me(t)
	if code != http.StatusOK || me.Email != testEmail || len(me.Roles) != 1 || me.Roles[0] != "staff" ||
		!strings.Contains(me.Scope, "offline_access") {
		t.Fatalf("/api/me: %d %+v", code, me)
	}
	access1, refresh1 := f.tokens(t)
	if refresh1 == "" {
		t.Fatal("no refresh token: offline_access not granted")
	}
	if q := f.authorizeNone(t); q.Get("code") == "" {
		t.Fatalf("prompt=none while signed in at idp: %v", q)
	}

	// Past the access token's expiry (1 min + the verifier's 30 s leeway):
	// the request still succeeds, through one refresh that rotated the
	// refresh token.
	f.env.Clock.Advance(2 * time.Minute)
	before := f.tokenCalls.Load()
	code, me2 := f.me(t)
	if code != http.StatusOK || me2.Email != testEmail {
		t.Fatalf("/api/me after expiry: %d %+v", code, me2)
	}
	access2, refresh2 := f.tokens(t)
	if refresh2 == refresh1 || access2 == access1 || refresh2 == "" {
		t.Fatal("the tokens did not change: no refresh happened")
	}
	if n := f.tokenCalls.Load() - before; n != 1 {
		t.Fatalf("%d token endpoint calls, want 1 refresh", n)
	}
	if !me2.AccessExpires.After(f.env.Clock.Now()) {
		t.Fatalf("refreshed access token expires %v, now %v", me2.AccessExpires, f.env.Clock.Now())
	}
	if code, _ := f.me(t); code != http.StatusOK || f.tokenCalls.Load()-before != 1 {
		t.Fatalf("a fresh token must not refresh again: %d, %d calls", code, f.tokenCalls.Load()-before)
	}

	// Sign-out needs the session's CSRF token.
	home := f.get(t, f.url+"/")
	csrf := hidden(t, csrfRE, home.body)
	if r := f.post(t, f.url+"/logout", url.Values{"csrf_token": {"forged"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out with a wrong CSRF token: %d", r.StatusCode)
	}
	if f.session(t) == nil {
		t.Fatal("a refused sign-out ended the session")
	}

	r := f.post(t, f.url+"/logout", url.Values{"csrf_token": {csrf}})
	end := location(t, r)
	eq := end.Query()
	if end.Scheme+"://"+end.Host+end.Path != f.app.meta.EndSessionEndpoint || eq.Get("id_token_hint") == "" ||
		eq.Get("client_id") != "webapp" || eq.Get("post_logout_redirect_uri") != f.url+"/" || eq.Get("state") == "" {
		t.Fatalf("sign-out redirect %s", end)
	}
	if f.app.sessions.len() != 0 {
		t.Fatal("the app session survived sign-out")
	}
	if err := f.refreshAtIdP(t, refresh2); err == nil {
		t.Fatal("the app did not revoke its refresh token at sign-out")
	}

	back, hops := f.follow(t, r)
	if len(hops) != 2 || hops[1].String() != f.url+"/?state="+url.QueryEscape(eq.Get("state")) {
		t.Fatalf("idp did not send the browser back with state: %v", hops)
	}
	if back.StatusCode != http.StatusOK || !strings.Contains(back.body, "You have signed out.") ||
		!strings.Contains(back.body, `href="/login"`) {
		t.Fatalf("page after sign-out: %d %.500s", back.StatusCode, back.body)
	}

	if code, _ := f.me(t); code != http.StatusUnauthorized {
		t.Fatalf("/api/me after sign-out: %d", code)
	}
	if q := f.authorizeNone(t); q.Get("error") != "login_required" || q.Get("state") != "silent" {
		t.Fatalf("prompt=none after sign-out: %v", q)
	}
}

// TestRevokedRefreshTokenDropsSession: once idp has revoked the refresh
// family, the access token still works until it expires (verified
// locally), and the next request after that loses the session.
func TestRevokedRefreshTokenDropsSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn(t)
	_, refresh := f.tokens(t)

	req, err := http.NewRequest(http.MethodPost, f.env.URL+"/revoke",
		strings.NewReader(url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("webapp", url.QueryEscape(f.secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}

	if code, _ := f.me(t); code != http.StatusOK {
		t.Fatalf("/api/me before the access token expires: %d", code)
	}
	f.env.Clock.Advance(2 * time.Minute)
	r := f.get(t, f.url+"/api/me")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "login_required") {
		t.Fatalf("/api/me with a revoked refresh token: %d %s", r.StatusCode, r.body)
	}
	cleared := false
	for _, c := range r.Cookies() {
		cleared = cleared || (c.Name == cookieSession && c.MaxAge < 0)
	}
	if !cleared || f.app.sessions.len() != 0 {
		t.Fatalf("session not dropped (cookie cleared %v, %d sessions)", cleared, f.app.sessions.len())
	}
	if home := f.get(t, f.url+"/"); !strings.Contains(home.body, `href="/login"`) || strings.Contains(home.body, "Sign out") {
		t.Fatalf("home page after the session was dropped: %.500s", home.body)
	}
}

// TestConcurrentRequestsRefreshOnce: requests of one browser that all find
// the access token expired cause a single refresh, and all succeed.
func TestConcurrentRequestsRefreshOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.signIn(t)
	f.env.Clock.Advance(2 * time.Minute)
	before := f.tokenCalls.Load()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			resp, err := f.browser.Get(f.url + "/api/me")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if n := f.tokenCalls.Load() - before; n != 1 {
		t.Fatalf("%d refreshes for concurrent requests, want 1", n)
	}
}

// TestCallbackRefusesForeignResponses: a callback without this browser's
// pending sign-in, with another state, or from another issuer is refused
// and redeems nothing.
func TestCallbackRefusesForeignResponses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := func() string {
		return location(t, f.get(t, f.url+"/login")).Query().Get("state")
	}
	cases := []struct {
		name  string
		query func() url.Values
	}{
		{"no pending sign-in", func() url.Values {
			return url.Values{"code": {"c"}, "state": {"s"}, "iss": {f.env.URL}}
		}},
		{"wrong state", func() url.Values {
			start()
			return url.Values{"code": {"c"}, "state": {"other"}, "iss": {f.env.URL}}
		}},
		{"wrong issuer", func() url.Values {
			return url.Values{"code": {"c"}, "state": {start()}, "iss": {"https://evil.example"}}
		}},
		{"missing issuer", func() url.Values {
			return url.Values{"code": {"c"}, "state": {start()}}
		}},
		{"expired sign-in", func() url.Values {
			st := start()
			f.env.Clock.Advance(loginTTL + time.Second)
			return url.Values{"code": {"c"}, "state": {st}, "iss": {f.env.URL}}
		}},
	}
	for _, tc := range cases {
		before := f.tokenCalls.Load()
		r := f.get(t, f.url+"/callback?"+tc.query().Encode())
		if r.StatusCode != http.StatusBadRequest || f.tokenCalls.Load() != before || f.app.sessions.len() != 0 {
			t.Errorf("%s: %d, %d token calls, %d sessions", tc.name, r.StatusCode, f.tokenCalls.Load()-before, f.app.sessions.len())
		}
	}
	// idp's error response (after state and iss check out) is shown, not redeemed.
	r := f.get(t, f.url+"/callback?"+url.Values{"error": {"access_denied"}, "state": {start()}, "iss": {f.env.URL}}.Encode())
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "access_denied") {
		t.Errorf("error response: %d %.300s", r.StatusCode, r.body)
	}
}

func TestParseFlags(t *testing.T) {
	env := map[string]string{"WEBAPP_CLIENT_SECRET": "from-env", "WEBAPP_ISSUER": "https://idp.example.com"}
	cfg, addr, err := parseFlags([]string{"--issuer", "https://sso.example.com", "--addr", ":9999"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://sso.example.com" || cfg.ClientSecret != "from-env" || cfg.ClientID != "webapp" ||
		addr != ":9999" || cfg.RedirectURL != "http://localhost:9090/callback" {
		t.Fatalf("%+v %s", cfg, addr)
	}
	if _, _, err := parseFlags(nil, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("no client secret accepted")
	}
}
