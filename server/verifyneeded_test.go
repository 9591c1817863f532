package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"idp/clients"
	"idp/server/servertest"
)

// startAt opens an authorization request of clientID in b and returns
// where idp sends the browser after the password.
func startAt(t *testing.T, env *servertest.Env, b *http.Client, clientID, email string, extra url.Values) *url.URL {
	t.Helper()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"s"}}
	for k, v := range extra {
		q[k] = v
	}
	resp, page := env.Get(t, b, "/authorize?"+q.Encode())
	if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
		resp, page = env.Get(t, b, resp.Header.Get("Location"))
	}
	if resp.StatusCode == http.StatusOK && page.RequestID() != "" {
		resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()},
			"email": {email}, "password": {testPassword}})
	}
	return servertest.Location(t, resp)
}

// TestRequireVerifiedEmail: a client that needs a verified address gets
// no code for a user without one; the user mails themselves the link,
// confirms it (here in another browser), continues, and the code comes.
// prompt=none answers interaction_required; a verified user and another
// client pass straight through.
func TestRequireVerifiedEmail(t *testing.T) {
	t.Parallel()
	env, srv := resetEnv(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "strict", Trusted: true, RedirectURIs: []string{testRedirect}, RequireVerifiedEmail: true})
	env.CreateClient(t, clients.Spec{ID: "relaxed", Trusted: true, RedirectURIs: []string{testRedirect}})
	b := env.Browser(t)
	loc := startAt(t, env, b, "strict", testEmail, nil)
	if loc.Path != "/login/verify-email" || loc.Query().Get("req") == "" {
		t.Fatalf("an unverified user was sent to %s", loc)
	}
	req := loc.Query().Get("req")
	_, page := env.Get(t, b, loc.String())
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Confirm your email address to continue") ||
		!strings.Contains(page.Body, `value="send"`) {
		t.Fatalf("verify page: %d %.1500s", page.Status, page.Body)
	}
	post := func(action string) (*http.Response, *servertest.Page) {
		_, p := env.Get(t, b, loc.String())
		return env.PostForm(t, b, "/login/verify-email", url.Values{"csrf_token": {p.CSRF()}, "req": {req}, "action": {action}})
	}
	if resp, p := post("continue"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "not confirmed yet") {
		t.Fatalf("continue before verifying: %d", resp.StatusCode)
	}
	if resp, _ := env.PostForm(t, b, "/login/verify-email", url.Values{"req": {req}, "action": {"send"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("send without CSRF: %d", resp.StatusCode)
	}
	if resp, p := post("send"); resp.StatusCode != http.StatusOK || !strings.Contains(p.Body, `id="verify-sent"`) {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	link := verifyLink(t, env, srv, testEmail)
	if done := confirm(t, env, env.Browser(t), link); done.Status != http.StatusOK {
		t.Fatalf("confirming in another browser: %d", done.Status)
	}
	resp, _ := post("continue")
	if got := servertest.Location(t, resp); !strings.HasPrefix(got.String(), testRedirect) || got.Query().Get("code") == "" {
		t.Fatalf("continue after verifying: %d %s", resp.StatusCode, got)
	}
	if loc := startAt(t, env, b, "strict", testEmail, nil); loc.Query().Get("code") == "" {
		t.Fatalf("a verified user was sent to %s", loc)
	}

	// Another user, unverified, with a session: prompt=none cannot ask.
	env.CreateUser(t, "bob@example.com", testPassword)
	bob := env.Browser(t)
	signIn(t, env, bob, "bob@example.com", testPassword)
	if loc := startAt(t, env, bob, "strict", "bob@example.com", url.Values{"prompt": {"none"}}); loc.Query().Get("error") != "interaction_required" {
		t.Fatalf("prompt=none: %s", loc)
	}
	if loc := startAt(t, env, bob, "relaxed", "bob@example.com", nil); loc.Query().Get("code") == "" {
		t.Fatalf("a client without the rule: %s", loc)
	}
	// Links are throttled per user.
	loc = startAt(t, env, bob, "strict", "bob@example.com", nil)
	throttled := false
	for range 6 {
		_, p := env.Get(t, bob, loc.String())
		resp, _ := env.PostForm(t, bob, "/login/verify-email", url.Values{"csrf_token": {p.CSRF()}, "req": {loc.Query().Get("req")}, "action": {"send"}})
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("six links in a row and no throttle")
	}
}

// TestRequireVerifiedEmailWithoutMail: without mail the page says whom to
// ask and offers no link; sending is not found.
func TestRequireVerifiedEmailWithoutMail(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "strict", Trusted: true, RedirectURIs: []string{testRedirect}, RequireVerifiedEmail: true})
	b := env.Browser(t)
	loc := startAt(t, env, b, "strict", testEmail, nil)
	_, page := env.Get(t, b, loc.String())
	if !strings.Contains(page.Body, "Ask your administrator") || strings.Contains(page.Body, `value="send"`) {
		t.Fatalf("page without mail: %.1500s", page.Body)
	}
	resp, _ := env.PostForm(t, b, "/login/verify-email", url.Values{"csrf_token": {page.CSRF()}, "req": {loc.Query().Get("req")}, "action": {"send"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("send without mail: %d", resp.StatusCode)
	}
	if err := env.Users.Store().SetEmailVerified(context.Background(), mustUserID(t, env, testEmail), testEmail); err != nil {
		t.Fatal(err)
	}
	_, page = env.Get(t, b, loc.String())
	resp, _ = env.PostForm(t, b, "/login/verify-email", url.Values{"csrf_token": {page.CSRF()}, "req": {loc.Query().Get("req")}, "action": {"continue"}})
	if got := servertest.Location(t, resp); got.Query().Get("code") == "" {
		t.Fatalf("continue once an admin verified: %s", got)
	}
}

func mustUserID(t *testing.T, env *servertest.Env, email string) string {
	t.Helper()
	u, err := env.Users.Store().ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestVerifyPageCannotSkipSignIn: the "continue" button of the verify
// page reruns every check of the request: a request that wants a fresh
// sign-in (prompt=login) still goes to the sign-in page from it.
func TestVerifyPageCannotSkipSignIn(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	u := env.CreateUser(t, testEmail, testPassword)
	if err := env.Users.Store().SetEmailVerified(context.Background(), u.ID, testEmail); err != nil {
		t.Fatal(err)
	}
	env.CreateClient(t, clients.Spec{ID: "app", Trusted: true, RedirectURIs: []string{testRedirect}})
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	q := url.Values{"client_id": {"app"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "prompt": {"login"}}
	resp, _ := env.Get(t, b, "/authorize?"+q.Encode())
	loc := servertest.Location(t, resp)
	if loc.Path != "/login" || loc.Query().Get("req") == "" {
		t.Fatalf("prompt=login went to %s", loc)
	}
	req := loc.Query().Get("req")
	_, page := env.Get(t, b, "/login/verify-email?req="+req)
	resp, _ = env.PostForm(t, b, "/login/verify-email", url.Values{"csrf_token": {page.CSRF()}, "req": {req}, "action": {"continue"}})
	got := servertest.Location(t, resp)
	if got.Query().Get("code") != "" || got.Path != "/login" {
		t.Fatalf("the verify page skipped the sign-in prompt=login asks for: %s", got)
	}
}
