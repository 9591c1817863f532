package server_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"idp/clients"
	"idp/server/servertest"
)

var iframeRE = regexp.MustCompile(`<iframe class="frontchannel-logout" src="([^"]+)"`)

// frontEnv is a browser signed in to "app" (front-channel logout URI on
// rp.example, wanting iss and sid) with a second client "other" on
// other.example that got no tokens in the session.
func frontEnv(t *testing.T) (*signedIn, string) {
	t.Helper()
	env := servertest.New(t)
	s := &signedIn{env: env, browser: env.Browser(t), user: env.CreateUser(t, testEmail, testPassword)}
	s.app = newRP(t, env, clients.Spec{ID: "app", Name: "The App", Trusted: true, PostLogoutRedirectURIs: []string{byeURI},
		Metadata: clients.Metadata{Logout: clients.Logout{FrontchannelLogoutURI: "https://rp.example/fcl?x=1",
			FrontchannelLogoutSessionRequired: true}}})
	env.CreateClient(t, clients.Spec{ID: "other", RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{Logout: clients.Logout{FrontchannelLogoutURI: "https://other.example/fcl"}}})
	tok := s.codeFlow(t, s.browser, testEmail)
	s.idToken, _ = tok.Extra("id_token").(string)
	return s, sidOf(t, tok)
}

// wantFrontChannel checks the signed-out page: one iframe, to app's URI
// with iss and sid, and a CSP framing exactly rp.example.
func wantFrontChannel(t *testing.T, s *signedIn, sid string, resp *http.Response, page *servertest.Page) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed-out page: %d", resp.StatusCode)
	}
	m := iframeRE.FindAllStringSubmatch(page.Body, -1)
	if len(m) != 1 {
		t.Fatalf("%d front-channel iframes, want 1: %.2000s", len(m), page.Body)
	}
	u, err := url.Parse(html.UnescapeString(m[0][1]))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "rp.example" || u.Path != "/fcl" || q.Get("x") != "1" || q.Get("iss") != s.env.URL || q.Get("sid") != sid {
		t.Fatalf("iframe src %s, want rp.example/fcl with x, iss and sid %s", u, sid)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	var frameSrc string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "frame-src" {
			frameSrc = strings.Join(f[1:], " ")
		}
	}
	if frameSrc != "https://rp.example" || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q: want frame-src exactly https://rp.example", csp)
	}
}

// TestFrontchannelLogout: the signed-out page after end-session loads the
// session's client's front-channel logout URI and frames only its origin;
// with a post_logout_redirect_uri the page is shown first, offering the
// way back, so the iframe loads before the user leaves.
func TestFrontchannelLogout(t *testing.T) {
	t.Parallel()
	t.Run("signed-out page", func(t *testing.T) {
		t.Parallel()
		s, sid := frontEnv(t)
		resp, page := s.endSession(t, url.Values{"id_token_hint": {s.idToken}})
		wantFrontChannel(t, s, sid, resp, page)
		// Signed out already: nothing is in the session any more.
		resp, page = s.endSession(t, url.Values{})
		if resp.StatusCode != http.StatusOK || iframeRE.MatchString(page.Body) || strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-src") {
			t.Fatalf("a second sign-out framed something: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	})
	t.Run("with a post-logout redirect", func(t *testing.T) {
		t.Parallel()
		s, sid := frontEnv(t)
		resp, page := s.endSession(t, url.Values{"id_token_hint": {s.idToken}, "post_logout_redirect_uri": {byeURI}, "state": {"st"}})
		wantFrontChannel(t, s, sid, resp, page)
		if !strings.Contains(page.Body, `href="`+byeURI+`?state=st"`) {
			t.Fatalf("no way back to the client: %.2000s", page.Body)
		}
	})
	t.Run("account page", func(t *testing.T) {
		t.Parallel()
		s, sid := frontEnv(t)
		_, acc := s.env.Get(t, s.browser, "/account")
		resp, page := s.env.PostForm(t, s.browser, "/account/logout-all", url.Values{"csrf_token": {acc.CSRF()}})
		wantFrontChannel(t, s, sid, resp, page)
	})
}
