package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"idp/server/servertest"
)

// toLoginPage starts an authorization for clientID in browser b and
// returns the sign-in page it lands on.
func toLoginPage(t *testing.T, env *servertest.Env, b *http.Client, clientID string) *servertest.Page {
	t.Helper()
	resp, _ := env.Get(t, b, authorizeURL(clientID, nil))
	loc := servertest.Location(t, resp)
	if loc.Path != "/login" {
		t.Fatalf("authorize sent the browser to %s, want /login", loc)
	}
	_, page := env.Get(t, b, loc.String())
	if page.Status != http.StatusOK || page.RequestID() == "" || page.CSRF() == "" {
		t.Fatalf("sign-in page %d without req or csrf_token", page.Status)
	}
	return page
}

// toConsentPage signs email in for a web authorization and returns the
// consent page.
func toConsentPage(t *testing.T, env *servertest.Env, b *http.Client, email string) *servertest.Page {
	t.Helper()
	login := toLoginPage(t, env, b, webID)
	resp, _ := env.PostForm(t, b, "/login", url.Values{"csrf_token": {login.CSRF()}, "req": {login.RequestID()},
		"email": {email}, "password": {testPassword}})
	loc := servertest.Location(t, resp)
	if loc.Path != "/consent" {
		t.Fatalf("sign-in sent the browser to %s, want /consent", loc)
	}
	_, page := env.Get(t, b, loc.String())
	if page.Status != http.StatusOK || page.RequestID() == "" {
		t.Fatalf("consent page %d without req", page.Status)
	}
	return page
}

func TestSignInRefusesBadCredentials(t *testing.T) {
	const disabled = "gone@example.com"
	cases := []struct{ name, email, password string }{
		{"wrong password", testEmail, "not the password at all"},
		{"unknown email", "nobody@example.com", testPassword},
		{"disabled user with the right password", disabled, testPassword},
		{"empty password", testEmail, ""},
		{"email in other case, wrong password", strings.ToUpper(testEmail), "nope nope nope"},
	}
	f := newFixture(t)
	env := f.env
	env.CreateUser(t, disabled, testPassword)
	if err := env.Users.Disable(context.Background(), disabled); err != nil {
		t.Fatal(err)
	}
	var first string // the wrong-password page, with per-request values masked
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := env.Browser(t)
			login := toLoginPage(t, env, b, webID)
			before := countRows(t, env)
			resp, page := env.PostForm(t, b, "/login", url.Values{"csrf_token": {login.CSRF()},
				"req": {login.RequestID()}, "email": {tc.email}, "password": {tc.password}})
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d (Location %q), want 401 on the page", resp.StatusCode, resp.Header.Get("Location"))
			}
			if got := page.Alert(); got != "Wrong email or password." {
				t.Errorf("alert %q", got)
			}
			if page.RequestID() != login.RequestID() {
				t.Errorf("the page lost the pending request: %q", page.RequestID())
			}
			if hasSessionCookie(t, env, b) {
				t.Error("a failed sign-in set a session cookie")
			}
			if after := countRows(t, env); after != before {
				t.Errorf("state changed: before %+v, after %+v", before, after)
			}
			// Every refusal is the same page, so it does not tell which
			// part was wrong or that the account exists but is disabled.
			masked := strings.NewReplacer(page.CSRF(), "CSRF", page.RequestID(), "REQ", tc.email, "EMAIL").Replace(page.Body)
			if first == "" {
				first = masked
			} else if masked != first {
				t.Errorf("the page differs from the wrong-password page:\n%s\n---\n%s", masked, first)
			}
		})
	}
}

func TestFormsRefuseBadCSRF(t *testing.T) {
	cases := []struct {
		name, form string
		token      func(t *testing.T, env *servertest.Env, own string) (string, bool) // value, whether to send it
	}{
		{"sign-in without csrf_token", "/login", func(*testing.T, *servertest.Env, string) (string, bool) { return "", false }},
		{"sign-in with an empty csrf_token", "/login", func(*testing.T, *servertest.Env, string) (string, bool) { return "", true }},
		{"sign-in with a wrong csrf_token", "/login", wrongCSRF},
		{"sign-in with another browser's csrf_token", "/login", otherBrowserCSRF},
		{"consent without csrf_token", "/consent", func(*testing.T, *servertest.Env, string) (string, bool) { return "", false }},
		{"consent with a wrong csrf_token", "/consent", wrongCSRF},
		{"consent with another browser's csrf_token", "/consent", otherBrowserCSRF},
	}
	f := newFixture(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A user each: a completed consent is remembered.
			env, email := f.env, f.newUser(t)
			b := env.Browser(t)
			var page *servertest.Page
			form := url.Values{}
			if tc.form == "/login" {
				page = toLoginPage(t, env, b, webID)
				form.Set("email", email)
				form.Set("password", testPassword)
			} else {
				page = toConsentPage(t, env, b, email)
				form.Set("decision", "allow")
			}
			form.Set("req", page.RequestID())
			hadSession := hasSessionCookie(t, env, b)
			before := countRows(t, env)
			if v, send := tc.token(t, env, page.CSRF()); send {
				form.Set("csrf_token", v)
			}
			resp, bad := env.PostForm(t, b, tc.form, form)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d (Location %q), want a 403 page", resp.StatusCode, resp.Header.Get("Location"))
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(bad.Body, "expired") {
				t.Errorf("not the form-expired page: %s %.200s", ct, bad.Body)
			}
			if after := countRows(t, env); after != before {
				t.Errorf("state changed: before %+v, after %+v", before, after)
			}
			if !hadSession && hasSessionCookie(t, env, b) {
				t.Error("a refused form set a session cookie")
			}
			// Nothing was spent: the same request completes with the right token.
			form.Set("csrf_token", page.CSRF())
			resp, _ = env.PostForm(t, b, tc.form, form)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("the right token then gives %d", resp.StatusCode)
			}
		})
	}
}

func wrongCSRF(_ *testing.T, _ *servertest.Env, own string) (string, bool) {
	b := []byte(own)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b), true
}

func otherBrowserCSRF(t *testing.T, env *servertest.Env, _ string) (string, bool) {
	_, page := env.Get(t, env.Browser(t), "/login")
	return page.CSRF(), true
}

func TestConsentDenied(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	page := toConsentPage(t, env, b, testEmail)
	before := countRows(t, env)
	form := url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "decision": {"deny"}}
	resp, _ := env.PostForm(t, b, "/consent", form)
	wantRedirectError(t, env.URL, resp, "access_denied")
	after := countRows(t, env)
	if after.Consents != before.Consents || after.Codes != before.Codes || after.Requests != before.Requests-1 {
		t.Errorf("deny changed more than ending the request: before %+v, after %+v", before, after)
	}
	// The answered request is gone: allowing it afterwards gives nothing.
	form.Set("decision", "allow")
	resp, gone := env.PostForm(t, b, "/consent", form)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(gone.Body, "expired") {
		t.Errorf("a denied request could be allowed later: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if again := countRows(t, env); again != after {
		t.Errorf("state changed: %+v, then %+v", after, again)
	}
}

func TestPromptNone(t *testing.T) {
	cases := []struct {
		name    string
		client  string
		session bool
		consent bool // the user approved this client before
		err     string
	}{
		{name: "no session", client: webID, err: "login_required"},
		{name: "no session, trusted client", client: firstID, err: "login_required"},
		{name: "session without consent", client: webID, session: true, err: "consent_required"},
		{name: "session with earlier consent", client: webID, session: true, consent: true},
		{name: "session, trusted client", client: firstID, session: true},
	}
	f := newFixture(t)
	env := f.env
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			email := f.newUser(t) // a user each: consent is remembered
			b := env.Browser(t)
			if tc.consent {
				if res := walk(t, env, b, authorizeURL(tc.client, nil), email, testPassword); res.loc == nil {
					t.Fatal("the first authorization gave no code")
				}
			} else if tc.session {
				signIn(t, env, b, email, testPassword)
			}
			before := countRows(t, env)
			// No page may be shown: the first answer goes to the client.
			resp, _ := env.Get(t, b, authorizeURL(tc.client, map[string]string{"prompt": "none"}))
			after := countRows(t, env)
			if tc.err != "" {
				wantRedirectError(t, env.URL, resp, tc.err)
				if after != before {
					t.Errorf("state changed: before %+v, after %+v", before, after)
				}
				return
			}
			loc := servertest.Location(t, resp)
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), testRedirect+"?") || q.Get("code") == "" || q.Get("state") != testState || q.Get("iss") != env.URL {
				t.Fatalf("prompt=none with a session: %s", loc)
			}
			if after.Codes != before.Codes+1 || after.Requests != before.Requests {
				t.Errorf("rows: before %+v, after %+v", before, after)
			}
		})
	}
}

func TestReauthentication(t *testing.T) {
	cases := []struct {
		name    string
		set     map[string]string
		advance time.Duration
		login   bool // the sign-in form must be shown again
	}{
		{name: "prompt=login", set: map[string]string{"prompt": "login"}, login: true},
		{name: "max_age=0", set: map[string]string{"max_age": "0"}, login: true},
		{name: "max_age passed", set: map[string]string{"max_age": "60"}, advance: 61 * time.Second, login: true},
		{name: "control: max_age not passed", set: map[string]string{"max_age": "60"}, advance: 59 * time.Second},
		{name: "control: no demand", advance: time.Hour},
	}
	f := newFixture(t)
	env := f.env
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			email := f.newUser(t)
			b := env.Browser(t)
			// A live session and remembered consent.
			if res := walk(t, env, b, authorizeURL(webID, nil), email, testPassword); res.loc == nil {
				t.Fatal("the first authorization gave no code")
			}
			env.Clock.Advance(tc.advance)
			res := walk(t, env, b, authorizeURL(webID, tc.set), email, testPassword)
			want := []string(nil)
			if tc.login {
				want = []string{"/login"}
			}
			if !slices.Equal(res.pages, want) {
				t.Fatalf("pages shown %v, want %v", res.pages, want)
			}
			if res.loc == nil || res.loc.Query().Get("code") == "" {
				t.Fatalf("no code after the sign-in: %v", res.loc)
			}
			// auth_time is the new sign-in, or still the first one.
			tok := f.exchange(t, webID, res.loc.Query().Get("code"), "")
			var id struct {
				AuthTime int64 `json:"auth_time"`
			}
			decodeJWT(t, tok.str("id_token"), &id)
			wantAuth := env.Clock.Now().Add(-tc.advance).Unix()
			if tc.login {
				wantAuth = env.Clock.Now().Unix()
			}
			if id.AuthTime != wantAuth {
				t.Errorf("auth_time %d, want %d", id.AuthTime, wantAuth)
			}
		})
	}
}

func TestConsentScreens(t *testing.T) {
	f := newFixture(t)
	env := f.env
	steps := []struct {
		name   string
		client string
		set    map[string]string
		pages  []string
	}{
		{"trusted client: sign-in only", firstID, map[string]string{"scope": "openid email profile"}, []string{"/login"}},
		{"first request of web: consent", webID, nil, []string{"/consent"}},
		{"same scopes: remembered", webID, nil, nil},
		{"fewer scopes: remembered", webID, map[string]string{"scope": "openid"}, nil},
		{"wider scopes: asked again", webID, map[string]string{"scope": "openid email profile"}, []string{"/consent"}},
		{"any approved scopes: remembered", webID, map[string]string{"scope": "openid profile"}, nil},
		{"prompt=consent: asked again", webID, map[string]string{"prompt": "consent"}, []string{"/consent"}},
		{"another client: consent", otherID, nil, []string{"/consent"}},
		{"trusted client with prompt=consent: none", firstID, map[string]string{"prompt": "consent"}, nil},
	}
	b := env.Browser(t)
	for _, st := range steps {
		res := walk(t, env, b, authorizeURL(st.client, st.set), testEmail, testPassword)
		if !slices.Equal(res.pages, st.pages) {
			t.Errorf("%s: pages shown %v, want %v", st.name, res.pages, st.pages)
		}
		if res.loc == nil || res.loc.Query().Get("code") == "" {
			t.Fatalf("%s: no code: %v", st.name, res.loc)
		}
	}
}

func TestAdminScopeOnlyForAdmins(t *testing.T) {
	cases := []struct {
		name, email string
		admin       bool
	}{
		{"non-admin", testEmail, false},
		{"admin", adminMail, true},
	}
	f := newFixture(t)
	env := f.env
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := env.Browser(t)
			res := walk(t, env, b, authorizeURL(webID, map[string]string{"scope": "openid idp:admin"}), tc.email, testPassword)
			if res.loc == nil || res.loc.Query().Get("code") == "" {
				t.Fatalf("no code: %v", res.loc)
			}
			tok := f.exchange(t, webID, res.loc.Query().Get("code"), "")
			scope := accessScope(t, env, tok.str("access_token"))
			has := slices.Contains(strings.Fields(scope), "idp:admin")
			if has != tc.admin || strings.Contains(tok.str("scope"), "idp:admin") != tc.admin {
				t.Errorf("token scope %q (response %q); idp:admin wanted: %v", scope, tok.str("scope"), tc.admin)
			}
			user := f.user
			if tc.admin {
				user = f.admin
			}
			granted, err := env.Tokens.Store().Consent(context.Background(), user.ID, webID)
			if err != nil || slices.Contains(granted, "idp:admin") != tc.admin {
				t.Errorf("remembered consent %v, %v", granted, err)
			}
		})
	}
}

// TestAdminScopeNotOnConsentPage: a non-admin is not asked to approve what
// they cannot grant.
func TestAdminScopeNotOnConsentPage(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	resp, _ := env.Get(t, b, authorizeURL(webID, map[string]string{"scope": "openid idp:admin"}))
	_, page := env.Get(t, b, servertest.Location(t, resp).String())
	if page.Status != http.StatusOK || page.RequestID() == "" {
		t.Fatalf("no consent page: %d", page.Status)
	}
	if strings.Contains(page.Body, "idp:admin") || strings.Contains(page.Body, "Administer") {
		t.Error("the consent page offers idp:admin to a non-admin")
	}
}
