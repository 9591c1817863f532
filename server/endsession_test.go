package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/keys"
	"idp/server/servertest"
	"idp/users"
)

const byeURI = "http://127.0.0.1:9555/bye"

// signedIn is a browser signed in to "app", with the ID token it got.
type signedIn struct {
	env     *servertest.Env
	app     *rp
	browser *http.Client
	user    *users.User
	idToken string
}

func newSignedIn(t *testing.T) *signedIn {
	t.Helper()
	env := servertest.New(t)
	s := &signedIn{env: env, browser: env.Browser(t), user: env.CreateUser(t, testEmail, testPassword)}
	s.app = newRP(t, env, clients.Spec{ID: "app", Name: "The App", Trusted: true, PostLogoutRedirectURIs: []string{byeURI}})
	s.idToken, _ = s.codeFlow(t, s.browser, testEmail).Extra("id_token").(string)
	return s
}

// codeFlow signs email in to "app" in browser b (or reuses b's session)
// and returns the tokens.
func (s *signedIn) codeFlow(t *testing.T, b *http.Client, email string) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	loc := s.env.Authorize(t, b, s.app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), email, testPassword)
	tok, err := s.app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// endSession sends the browser to the end-session endpoint.
func (s *signedIn) endSession(t *testing.T, q url.Values) (*http.Response, *servertest.Page) {
	t.Helper()
	return s.env.Get(t, s.browser, "/end-session?"+q.Encode())
}

// wantSession checks that the browser's session is (or is not) alive:
// prompt=none either gets a code or login_required, and the account page
// opens or sends the browser to sign in.
func (s *signedIn) wantSession(t *testing.T, alive bool) {
	t.Helper()
	if n := liveSessions(t, s.env, s.user.ID); (n == 1) != alive {
		t.Fatalf("%d live sessions, want alive=%v", n, alive)
	}
	resp, _ := s.env.Get(t, s.browser, "/account")
	if (resp.StatusCode == http.StatusOK) != alive {
		t.Fatalf("/account answered %d, want alive=%v", resp.StatusCode, alive)
	}
	v := oauth2.GenerateVerifier()
	resp, _ = s.env.Get(t, s.browser, s.app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v),
		oauth2.SetAuthURLParam("prompt", "none")))
	q := servertest.Location(t, resp).Query()
	if alive && q.Get("code") == "" || !alive && q.Get("error") != "login_required" {
		t.Fatalf("prompt=none answered %v, want alive=%v", q, alive)
	}
}

// wantLoggedOutTo checks the 303 back to the client with its state.
func wantLoggedOutTo(t *testing.T, resp *http.Response, state string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", resp.StatusCode)
	}
	loc := servertest.Location(t, resp)
	if loc.Scheme+"://"+loc.Host+loc.Path != byeURI || loc.Query().Get("state") != state {
		t.Fatalf("redirect to %s, want %s with state %q", loc, byeURI, state)
	}
}

// wantConfirmPage checks the sign-out question: 200 HTML with a CSRF token
// and both choices, and no redirect.
func wantConfirmPage(t *testing.T, resp *http.Response, page *servertest.Page) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		page.CSRF() == "" || !strings.Contains(page.Body, `action="/logout"`) ||
		!strings.Contains(page.Body, `value="logout"`) || !strings.Contains(page.Body, `value="stay"`) {
		t.Fatalf("not the sign-out question: %d %.300s", resp.StatusCode, page.Body)
	}
}

// TestEndSessionWithHint: a valid id_token_hint for the signed-in user
// signs out at once and returns to the registered URI with state, also
// when the hint has expired or its key has been retired since.
func TestEndSessionWithHint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		aging func(t *testing.T, env *servertest.Env, hint string)
	}{
		{"fresh hint", func(*testing.T, *servertest.Env, string) {}},
		{"expired hint", func(_ *testing.T, env *servertest.Env, _ string) { env.Clock.Advance(time.Hour) }},
		{"hint signed by a retired key", func(t *testing.T, env *servertest.Env, hint string) {
			var first string
			for i := range 2 {
				env.Clock.Advance(time.Minute)
				rot, err := env.Keys.Rotate(context.Background(), "RS256", true)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = rot.Retired.KID
				}
			}
			list, err := env.Keys.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var hdr struct{ KID string }
			if err := json.Unmarshal([]byte(decodeSegment(t, strings.Split(hint, ".")[0])), &hdr); err != nil || hdr.KID != first {
				t.Fatalf("hint signed by %q, first retired key %q (%v)", hdr.KID, first, err)
			}
			for _, k := range list {
				if k.KID == first && k.State != keys.StateRetired {
					t.Fatalf("the hint's key is %s, want retired", k.State)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSignedIn(t)
			tc.aging(t, s.env, s.idToken)
			s.wantSession(t, true)
			resp, _ := s.endSession(t, url.Values{"id_token_hint": {s.idToken},
				"post_logout_redirect_uri": {byeURI}, "state": {"st8"}})
			wantLoggedOutTo(t, resp, "st8")
			s.wantSession(t, false)
		})
	}
}

// TestEndSessionWithoutHint: without a hint the user is asked; the
// session lives until they choose to sign out, and "stay" keeps it.
func TestEndSessionWithoutHint(t *testing.T) {
	t.Parallel()
	for _, decision := range []string{"logout", "stay"} {
		t.Run(decision, func(t *testing.T) {
			s := newSignedIn(t)
			resp, page := s.endSession(t, url.Values{"client_id": {"app"},
				"post_logout_redirect_uri": {byeURI}, "state": {"st8"}})
			wantConfirmPage(t, resp, page)
			if !strings.Contains(page.Body, "The App") || !strings.Contains(page.Body, `value="st8"`) {
				t.Errorf("the question does not name the app or carry state: %.600s", page.Body)
			}
			s.wantSession(t, true)

			// Without the CSRF token nothing happens.
			resp, _ = s.env.PostForm(t, s.browser, "/logout", url.Values{"decision": {decision}, "client_id": {"app"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("logout without CSRF: %d", resp.StatusCode)
			}
			s.wantSession(t, true)

			resp, _ = s.env.PostForm(t, s.browser, "/logout", url.Values{"csrf_token": {page.CSRF()},
				"client_id": {"app"}, "post_logout_redirect_uri": {byeURI}, "state": {"st8"}, "decision": {decision}})
			if decision == "stay" {
				if resp.StatusCode != http.StatusSeeOther || servertest.Location(t, resp).Path != "/account" {
					t.Fatalf("stay: %d %s", resp.StatusCode, resp.Header.Get("Location"))
				}
				s.wantSession(t, true)
				return
			}
			wantLoggedOutTo(t, resp, "st8")
			s.wantSession(t, false)
		})
	}
}

// TestEndSessionRefusals: requests that must neither redirect nor sign
// out, and hints that must not sign out without asking.
func TestEndSessionRefusals(t *testing.T) {
	t.Parallel()
	s := newSignedIn(t)
	other := newRP(t, s.env, clients.Spec{ID: "other", Trusted: true, PostLogoutRedirectURIs: []string{byeURI}})
	forged := s.idToken[:strings.LastIndex(s.idToken, ".")+1] + "AAAA"
	// A valid hint, but for another user than the one signed in.
	s.env.CreateUser(t, "bob@example.com", testPassword)
	stranger, _ := s.codeFlow(t, s.env.Browser(t), "bob@example.com").Extra("id_token").(string)
	access := s.codeFlow(t, s.browser, testEmail).AccessToken
	refused := []struct {
		name string
		q    url.Values
	}{
		{"unregistered post_logout_redirect_uri", url.Values{"id_token_hint": {s.idToken},
			"post_logout_redirect_uri": {"http://127.0.0.1:9555/elsewhere"}, "state": {"x"}}},
		{"a redirect_uri that is not a post-logout URI", url.Values{"client_id": {"app"},
			"post_logout_redirect_uri": {"http://127.0.0.1:9555/callback"}}},
		{"post_logout_redirect_uri without a client", url.Values{"post_logout_redirect_uri": {byeURI}}},
		{"client_id not the hint's audience", url.Values{"id_token_hint": {s.idToken}, "client_id": {other.conf.ClientID},
			"post_logout_redirect_uri": {byeURI}}},
		{"unknown client_id", url.Values{"client_id": {"nobody"}}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := s.endSession(t, tc.q)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("got %d Location=%q, want a 400 page: %.300s", resp.StatusCode, resp.Header.Get("Location"), page.Body)
			}
			s.wantSession(t, true)
		})
	}
	asked := []struct {
		name string
		q    url.Values
	}{
		{"forged hint", url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {byeURI}, "client_id": {"app"}}},
		{"garbage hint", url.Values{"id_token_hint": {"not.a.jwt"}}},
		{"an access token as hint", url.Values{"id_token_hint": {access}}},
		{"another user's hint", url.Values{"id_token_hint": {stranger}, "post_logout_redirect_uri": {byeURI}}},
	}
	for _, tc := range asked {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := s.endSession(t, tc.q)
			wantConfirmPage(t, resp, page)
			s.wantSession(t, true)
		})
	}
	// The confirmation is validated again: a doctored form cannot add an
	// unregistered address.
	t.Run("confirmation with an unregistered address", func(t *testing.T) {
		_, page := s.endSession(t, url.Values{"client_id": {"app"}})
		resp, _ := s.env.PostForm(t, s.browser, "/logout", url.Values{"csrf_token": {page.CSRF()}, "client_id": {"app"},
			"post_logout_redirect_uri": {"http://127.0.0.1:9555/elsewhere"}, "decision": {"logout"}})
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("got %d Location=%q, want a 400 page", resp.StatusCode, resp.Header.Get("Location"))
		}
		s.wantSession(t, true)
	})
}

// TestEndSessionWhenSignedOut: with no session there is nothing to
// confirm; the user goes straight back to the client.
func TestEndSessionWhenSignedOut(t *testing.T) {
	t.Parallel()
	s := newSignedIn(t)
	s.browser = s.env.Browser(t) // a browser without the session
	for _, q := range []url.Values{
		{"id_token_hint": {s.idToken}, "post_logout_redirect_uri": {byeURI}, "state": {"st8"}},
		{"client_id": {"app"}, "post_logout_redirect_uri": {byeURI}, "state": {"st8"}},
	} {
		resp, _ := s.endSession(t, q)
		wantLoggedOutTo(t, resp, "st8")
	}
	resp, page := s.endSession(t, url.Values{})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Signed out") {
		t.Fatalf("bare end-session without a session: %d", resp.StatusCode)
	}
	if n := liveSessions(t, s.env, s.user.ID); n != 1 {
		t.Fatalf("the other browser's session was ended: %d left", n)
	}
}
