package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/server/servertest"
)

// passwordForm posts the account page's password form from h's browser.
func (a *accountEnv) changePassword(t *testing.T, h *holder, form url.Values) (*http.Response, *servertest.Page) {
	t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", a.page(t, h).CSRF())
	}
	return a.env.PostForm(t, h.browser, "/account/password", form)
}

// wantPassword checks which of the passwords signs in as email.
func wantPassword(t *testing.T, env *servertest.Env, email, works, fails string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Users.Authenticate(ctx, email, works); err != nil {
		t.Fatalf("%q no longer signs in: %v", works, err)
	}
	if fails != "" {
		if _, err := env.Users.Authenticate(ctx, email, fails); err == nil {
			t.Fatalf("%q still signs in", fails)
		}
	}
}

// TestAccountChangePassword: right after signing in the current password
// is not asked for; the change ends every other session and offline grant
// (the form's default), keeps this one, is audited, and the old password
// stops working.
func TestAccountChangePassword(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	other := a.grant(t, a.ada.user, a.env.Browser(t)) // a second device
	page := a.page(t, a.ada)
	if strings.Contains(page.Body, `name="current_password"`) || !strings.Contains(page.Body, `action="/account/password"`) {
		t.Fatalf("a fresh sign-in should be offered the form without the current password:\n%.2000s", page.Body)
	}
	const fresh = "a brand new passphrase 42"
	resp, _ := a.changePassword(t, a.ada, url.Values{"new_password": {fresh}, "confirm_password": {fresh}, "end_others": {"1"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "notice=password-changed") {
		t.Fatalf("change: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	wantPassword(t, a.env, testEmail, fresh, testPassword)
	if _, page := a.env.Get(t, a.ada.browser, resp.Header.Get("Location")); !strings.Contains(page.Body, "Your password was changed. Every other session") {
		t.Fatalf("no notice:\n%.1500s", page.Body)
	}
	if resp, _ := a.env.Get(t, other.browser, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other device is still signed in: %d", resp.StatusCode)
	}
	if n := liveSessions(t, a.env, a.ada.user.ID); n != 1 {
		t.Fatalf("%d sessions, want only this one", n)
	}
	a.wantGrantAlive(t, a.ada, false)
	a.wantGrantAlive(t, other, false)
	a.wantGrantAlive(t, a.bob, true)
	events, err := a.env.Audit.List(context.Background(), time.Time{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Action == "password.changed" && e.Target == a.ada.user.ID && strings.Contains(e.Detail, "ended_others=true") {
			found = true
		}
		if strings.Contains(e.Detail, fresh) || strings.Contains(e.Detail, testPassword) {
			t.Fatalf("a password is in the audit log: %+v", e)
		}
	}
	if !found {
		t.Fatalf("no password.changed event in %+v", events)
	}
}

// TestAccountChangePasswordKeepingSessions: without end_others the other
// sessions and the grants stay.
func TestAccountChangePasswordKeepingSessions(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	other := a.grant(t, a.ada.user, a.env.Browser(t))
	const fresh = "a brand new passphrase 43"
	resp, _ := a.changePassword(t, a.ada, url.Values{"new_password": {fresh}, "confirm_password": {fresh}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "notice=password-changed-kept") {
		t.Fatalf("change: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	wantPassword(t, a.env, testEmail, fresh, testPassword)
	a.page(t, other)
	a.wantGrantAlive(t, a.ada, true)
	a.wantGrantAlive(t, other, true)
}

// TestAccountChangePasswordRefusals: every refused change says why on the
// page and changes nothing: no password, no session, no grant.
func TestAccountChangePasswordRefusals(t *testing.T) {
	t.Parallel()
	a := newAccountEnv(t)
	other := a.grant(t, a.ada.user, a.env.Browser(t))
	both := func(pw string) url.Values {
		return url.Values{"new_password": {pw}, "confirm_password": {pw}, "end_others": {"1"}}
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"confirmation differs", url.Values{"new_password": {"a brand new passphrase"}, "confirm_password": {"a brand new passphrasf"}},
			http.StatusBadRequest, "confirmation differ"},
		{"too short", both("short"), http.StatusBadRequest, "too short"},
		{"too long", both(strings.Repeat("p", 1025)), http.StatusBadRequest, "too long"},
		{"only spaces", both("          "), http.StatusBadRequest, "only spaces"},
		{"common", both("password1"), http.StatusBadRequest, "most commonly used"},
		{"common in capitals", both("QWERTYUIOP"), http.StatusBadRequest, "most commonly used"},
		{"contains the email's local part", both("Ada-in-the-engine-1843"), http.StatusBadRequest, "email address"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp, page := a.changePassword(t, a.ada, tt.form)
			if resp.StatusCode != tt.status || !strings.Contains(page.Alert(), tt.says) {
				t.Fatalf("%d %q, want %d saying %q", resp.StatusCode, page.Alert(), tt.status, tt.says)
			}
		})
	}
	t.Run("no CSRF token", func(t *testing.T) {
		resp, _ := a.changePassword(t, a.ada, url.Values{"csrf_token": {""}, "new_password": {"a brand new passphrase"},
			"confirm_password": {"a brand new passphrase"}, "end_others": {"1"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("without CSRF: %d", resp.StatusCode)
		}
	})
	t.Run("another browser's CSRF token", func(t *testing.T) {
		csrf := a.page(t, a.bob).CSRF()
		resp, _ := a.changePassword(t, a.ada, url.Values{"csrf_token": {csrf}, "new_password": {"a brand new passphrase"},
			"confirm_password": {"a brand new passphrase"}, "end_others": {"1"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("with bob's CSRF token: %d", resp.StatusCode)
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		b := a.env.Browser(t)
		_, page := a.env.Get(t, b, "/login")
		resp, _ := a.env.PostForm(t, b, "/account/password", url.Values{"csrf_token": {page.CSRF()},
			"new_password": {"a brand new passphrase"}, "confirm_password": {"a brand new passphrase"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	wantPassword(t, a.env, testEmail, testPassword, "a brand new passphrase")
	if n := liveSessions(t, a.env, a.ada.user.ID); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	a.page(t, other)
	a.wantGrantAlive(t, a.ada, true)
}

// TestAccountChangePasswordNeedsCurrentLater: some minutes after signing
// in the current password is needed; a wrong one is refused, counts
// toward the sign-in throttle until the change is refused outright (even
// with the right one), and changes nothing.
func TestAccountChangePasswordNeedsCurrentLater(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	env.Clock.Advance(6 * time.Minute)
	_, page := env.Get(t, b, "/account")
	if !strings.Contains(page.Body, `name="current_password"`) {
		t.Fatalf("the current password is not asked for after 6 minutes")
	}
	const fresh = "a brand new passphrase 44"
	post := func(current string) (*http.Response, *servertest.Page) {
		_, page := env.Get(t, b, "/account")
		return env.PostForm(t, b, "/account/password", url.Values{"csrf_token": {page.CSRF()},
			"current_password": {current}, "new_password": {fresh}, "confirm_password": {fresh}})
	}
	if resp, page := post(""); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Alert(), "current password is not right") {
		t.Fatalf("no current password: %d %q", resp.StatusCode, page.Alert())
	}
	throttled := false
	for range 30 {
		resp, page := post("not my password")
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(page.Alert(), "Too many failed attempts") {
				t.Fatalf("throttled without Retry-After or words: %q", page.Alert())
			}
			throttled = true
			break
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Alert(), "current password is not right") {
			t.Fatalf("wrong current password: %d %q", resp.StatusCode, page.Alert())
		}
	}
	if !throttled {
		t.Fatal("30 wrong current passwords and no throttle")
	}
	if resp, _ := post(testPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password while throttled: %d", resp.StatusCode)
	}
	wantPassword(t, env, testEmail, testPassword, fresh)
	env.Clock.Advance(2 * time.Hour) // the throttle forgets; the session is still live
	if resp, _ := env.Get(t, b, "/account"); resp.StatusCode != http.StatusOK {
		t.Skipf("the session did not outlive the throttle window (%d); nothing more to check", resp.StatusCode)
	}
	if resp, _ := post(testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right current password: %d", resp.StatusCode)
	}
	wantPassword(t, env, testEmail, fresh, testPassword)
}
