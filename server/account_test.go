package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
	"idp/users"
)

// accountEnv has two users, each signed in to an offline-access client in
// their own browser.
type accountEnv struct {
	env *servertest.Env
	app *rp
	ada *holder
	bob *holder
	ctx context.Context
}

// holder is one user's browser and offline grant.
type holder struct {
	user    *users.User
	browser *http.Client
	tok     *oauth2.Token
}

func newAccountEnv(t *testing.T) *accountEnv {
	t.Helper()
	env := servertest.New(t)
	a := &accountEnv{env: env, ctx: context.Background()}
	a.app = newRP(t, env, clients.Spec{ID: "app", Name: "Offline Reader", Trusted: true})
	a.app.conf.Scopes = append(a.app.conf.Scopes, "offline_access")
	a.ada = a.grant(t, env.CreateUser(t, testEmail, testPassword), env.Browser(t))
	a.bob = a.grant(t, env.CreateUser(t, "bob@example.com", testPassword), env.Browser(t))
	return a
}

// grant signs u in to the app in b with offline_access.
func (a *accountEnv) grant(t *testing.T, u *users.User, b *http.Client) *holder {
	t.Helper()
	v := oauth2.GenerateVerifier()
	loc := a.env.Authorize(t, b, a.app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), u.Email, testPassword)
	tok, err := a.app.conf.Exchange(a.ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("offline grant: %v", err)
	}
	return &holder{user: u, browser: b, tok: tok}
}

// page opens h's account page.
func (a *accountEnv) page(t *testing.T, h *holder) *servertest.Page {
	t.Helper()
	resp, page := a.env.Get(t, h.browser, "/account")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/account: %d", resp.StatusCode)
	}
	return page
}

// ids returns h's grant ids and session ids from the services.
func (a *accountEnv) ids(t *testing.T, h *holder) (grants, sessions []string) {
	t.Helper()
	gs, err := a.env.Tokens.Grants(a.ctx, h.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		grants = append(grants, g.ID)
	}
	ss, err := a.env.Sessions.List(a.ctx, h.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		sessions = append(sessions, s.ID)
	}
	return grants, sessions
}

// wantGrantAlive checks h's refresh token by introspection and access
// token at UserInfo, without spending the refresh token.
func (a *accountEnv) wantGrantAlive(t *testing.T, h *holder, alive bool) {
	t.Helper()
	wantActive(t, introspectToken(t, a.env, credsOf(a.app), h.tok.RefreshToken, ""), alive)
	if alive {
		wantAccepted(t, a.env, h.tok.AccessToken)
	} else {
		wantRefused(t, a.env, h.tok.AccessToken)
		wantError(t, refreshWith(t, a.env, credsOf(a.app), h.tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	}
}

// TestAccountListsGrantAndSession: the page names the app holding offline
// access and the session, each with a form to end it.
func TestAccountListsGrantAndSession(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	grants, sessions := a.ids(t, a.ada)
	if len(grants) != 1 || len(sessions) != 1 {
		t.Fatalf("grants %v, sessions %v", grants, sessions)
	}
	body := a.page(t, a.ada).Body
	for _, want := range []string{"Offline Reader", `value="` + grants[0] + `"`, `value="` + sessions[0] + `"`,
		`action="/account/grants/revoke"`, `action="/account/sessions/revoke"`, "this device"} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	bobGrants, bobSessions := a.ids(t, a.bob)
	for _, leak := range append(bobGrants, bobSessions...) {
		if strings.Contains(body, leak) {
			t.Errorf("ada's page shows bob's id %s", leak)
		}
	}
	resp, _ := a.env.Get(t, a.env.Browser(t), "/account")
	if resp.StatusCode != http.StatusSeeOther || servertest.Location(t, resp).Path != "/login" {
		t.Fatalf("/account without a session: %d", resp.StatusCode)
	}
}

// TestAccountRevokeGrant: the user's own grant dies with the refresh token
// and its access token; without CSRF nothing happens.
func TestAccountRevokeGrant(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	grants, _ := a.ids(t, a.ada)
	csrf := a.page(t, a.ada).CSRF()

	before := rowSnapshot(t, a.env)
	resp, _ := a.env.PostForm(t, a.ada.browser, "/account/grants/revoke", url.Values{"id": {grants[0]}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("revoke without CSRF: %d", resp.StatusCode)
	}
	unchanged(t, a.env, before)
	a.wantGrantAlive(t, a.ada, true)

	resp, _ = a.env.PostForm(t, a.ada.browser, "/account/grants/revoke", url.Values{"csrf_token": {csrf}, "id": {grants[0]}})
	if resp.StatusCode != http.StatusSeeOther || servertest.Location(t, resp).RawQuery != "notice=grant-revoked" {
		t.Fatalf("revoke grant: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	a.wantGrantAlive(t, a.ada, false)
	if g, _ := a.ids(t, a.ada); len(g) != 0 {
		t.Fatalf("revoked grant still listed: %v", g)
	}
	if body := a.page(t, a.ada).Body; strings.Contains(body, "Offline Reader") {
		t.Error("the page still lists the revoked app")
	}
	a.wantGrantAlive(t, a.bob, true)
	if liveSessions(t, a.env, a.ada.user.ID) != 1 {
		t.Fatal("revoking a grant ended the session")
	}
}

// TestAccountCannotTouchOthers: another user's grant and session ids are
// ignored, with the same answer as for one's own.
func TestAccountCannotTouchOthers(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	bobGrants, bobSessions := a.ids(t, a.bob)
	csrf := a.page(t, a.ada).CSRF()
	before := rowSnapshot(t, a.env)
	for _, tc := range []struct{ path, id, notice string }{
		{"/account/grants/revoke", bobGrants[0], "notice=grant-revoked"},
		{"/account/sessions/revoke", bobSessions[0], "notice=session-ended"},
		{"/account/grants/revoke", "no-such-id", "notice=grant-revoked"},
		{"/account/sessions/revoke", "no-such-id", "notice=session-ended"},
	} {
		resp, _ := a.env.PostForm(t, a.ada.browser, tc.path, url.Values{"csrf_token": {csrf}, "id": {tc.id}})
		if resp.StatusCode != http.StatusSeeOther || servertest.Location(t, resp).RawQuery != tc.notice {
			t.Fatalf("%s %s: %d %s", tc.path, tc.id, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	unchanged(t, a.env, before)
	a.wantGrantAlive(t, a.bob, true)
	a.page(t, a.bob)
	a.wantGrantAlive(t, a.ada, true)
}

// TestAccountSignOutEverywhere ends every session of the user and revokes
// every grant, and touches nobody else's.
func TestAccountSignOutEverywhere(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	second := a.grant(t, a.ada.user, a.env.Browser(t)) // another device
	if n := liveSessions(t, a.env, a.ada.user.ID); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	csrf := a.page(t, a.ada).CSRF()
	resp, page := a.env.PostForm(t, a.ada.browser, "/account/logout-all", url.Values{"csrf_token": {csrf}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Signed out") {
		t.Fatalf("sign out everywhere: %d %.300s", resp.StatusCode, page.Body)
	}
	if n := liveSessions(t, a.env, a.ada.user.ID); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	for _, b := range []*http.Client{a.ada.browser, second.browser} {
		if resp, _ := a.env.Get(t, b, "/account"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a browser is still signed in: %d", resp.StatusCode)
		}
	}
	a.wantGrantAlive(t, a.ada, false)
	a.wantGrantAlive(t, second, false)
	a.wantGrantAlive(t, a.bob, true)
	a.page(t, a.bob)
}

// TestAccountFormsNeedSessionAndCSRF: each account form refuses a post
// without the CSRF token (403) and sends a browser with no session to the
// sign-in page (303), before it reads the form or checks whether its
// feature is on, and neither changes anything or writes an audit record.
func TestAccountFormsNeedSessionAndCSRF(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	grants, sessions := a.ids(t, a.ada)
	forms := []struct {
		path string
		form url.Values
	}{
		{"/account/sessions/revoke", url.Values{"id": {sessions[0]}}},
		{"/account/grants/revoke", url.Values{"id": {grants[0]}}},
		{"/account/password", url.Values{"new_password": {"a brand new passphrase"},
			"confirm_password": {"a brand new passphrase"}, "current_password": {testPassword}}},
		{"/account/email", url.Values{"email": {"new@example.com"}, "current_password": {testPassword}}},
		{"/account/upstreams/unlink", url.Values{"upstream": {"corp"}, "sub": {"x"}, "confirm": {"yes"}}},
	}
	stranger := a.env.Browser(t)
	_, login := a.env.Get(t, stranger, "/login")
	before := rowSnapshot(t, a.env)
	audits := rowCount(t, a.env, "audit_events", "")
	for _, f := range forms {
		resp, _ := a.env.PostForm(t, a.ada.browser, f.path, f.form)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without CSRF: %d, want 403", f.path, resp.StatusCode)
		}
		form := url.Values{"csrf_token": {login.CSRF()}}
		for k, v := range f.form {
			form[k] = v
		}
		resp, _ = a.env.PostForm(t, stranger, f.path, form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("%s without a session: %d %s, want 303 /login", f.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	unchanged(t, a.env, before)
	if n := rowCount(t, a.env, "audit_events", ""); n != audits {
		t.Errorf("audit records: %d, want %d", n, audits)
	}
	wantPassword(t, a.env, testEmail, testPassword, "a brand new passphrase")
	a.wantGrantAlive(t, a.ada, true)
	a.page(t, a.ada)
}
