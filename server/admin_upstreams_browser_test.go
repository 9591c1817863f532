package server_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"idp/server/servertest"
)

// TestAdminUpstreamsBrowser drives Chromium through an upstream's life in
// the console: add one with a client secret from the navigation's
// Upstreams page, read the redirect URI to register on its page and in
// the list, edit it (a new name, the secret removed), and delete it
// through the confirmation. The secret never appears on a page.
func TestAdminUpstreamsBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	redirect := env.URL + "/login/upstream/corp/callback"
	b.do("sign in as the administrator",
		chromedp.Navigate(env.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("profile-heading")),
	)

	b.do("add an upstream",
		chromedp.Navigate(env.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`.admin-nav a[href="/admin/upstreams"]`)),
		chromedp.Click(chromedp.CSS(`.admin-nav a[href="/admin/upstreams"]`)),
		chromedp.WaitVisible(chromedp.ID("upstream-id")),
		chromedp.SendKeys(chromedp.ID("upstream-id"), "corp"),
		chromedp.SendKeys(chromedp.ID("upstream-name"), "Corp SSO"),
		chromedp.SendKeys(chromedp.ID("upstream-issuer"), "https://sso.corp.example"),
		chromedp.SendKeys(chromedp.ID("upstream-client-id"), "idp-at-corp"),
		chromedp.SendKeys(chromedp.ID("upstream-secret"), upSecret),
		chromedp.SendKeys(chromedp.ID("upstream-scopes"), "email profile"),
		chromedp.SendKeys(chromedp.ID("upstream-domains"), "corp.example"),
		chromedp.Click(chromedp.ID("upstream-jit")),
		chromedp.Click(chromedp.CSS(`form[action="/admin/upstreams"] button[type="submit"]`)),
	)
	waitURL(b, "add", "notice=upstream-created")
	if got := b.text("#redirect-uri"); got != redirect {
		t.Errorf("the page shows redirect URI %q, want %q", got, redirect)
	}
	u := storedUpstream(t, env, "corp")
	if u.Name != "Corp SSO" || u.ClientID != "idp-at-corp" || !u.JIT || u.LinkByEmail || len(u.SecretSealed) == 0 ||
		bytes.Contains(u.SecretSealed, []byte(upSecret)) || strings.Join(u.AllowedDomains, ",") != "corp.example" {
		t.Fatalf("stored %+v", u)
	}
	if body := b.text("body"); strings.Contains(body, upSecret) {
		t.Error("the page shows the secret")
	}
	b.shot("upstreams-01-created")

	b.do("see it in the list",
		chromedp.Click(chromedp.CSS(`.lead a[href="/admin/upstreams"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main table tbody a[href="/admin/upstreams/corp"]`)),
	)
	if rows := b.text("main table tbody"); !strings.Contains(rows, redirect) || !strings.Contains(rows, "Corp SSO") ||
		!strings.Contains(rows, "create at first sign-in") || strings.Contains(rows, upSecret) {
		t.Errorf("list: %q", rows)
	}
	b.shot("upstreams-02-list")

	b.do("edit it",
		chromedp.Click(chromedp.CSS(`main table tbody a[href="/admin/upstreams/corp"]`)),
		chromedp.WaitVisible(chromedp.ID("edit-name")),
		chromedp.Clear(chromedp.ID("edit-name")),
		chromedp.SendKeys(chromedp.ID("edit-name"), "Corp Login"),
		chromedp.Click(chromedp.ID("edit-remove-secret")),
		chromedp.Click(chromedp.CSS(`form:has(#edit-name) button[type="submit"]`)),
	)
	waitURL(b, "edit", "notice=upstream-updated")
	if u := storedUpstream(t, env, "corp"); u.Name != "Corp Login" || u.SecretSealed != nil || !u.JIT || u.ClientID != "idp-at-corp" {
		t.Fatalf("after the edit: %+v", u)
	}
	if h := b.text("h1"); h != "Corp Login" {
		t.Errorf("heading %q", h)
	}

	const confirm = `form input[name="confirm"][value="yes"] ~ button[type="submit"]`
	b.do("delete it",
		chromedp.Click(chromedp.CSS(`form[action$="/delete"] button`)),
		chromedp.WaitVisible(chromedp.CSS(confirm)),
	)
	if msg := b.text(".confirm-message"); !strings.Contains(msg, "The users stay") {
		t.Errorf("confirmation says %q", msg)
	}
	storedUpstream(t, env, "corp") // not yet deleted
	b.do("confirm the deletion", chromedp.Click(chromedp.CSS(confirm)))
	waitURL(b, "delete", "notice=upstream-deleted")
	if rows := b.text("main table tbody"); !strings.Contains(rows, "No upstreams yet.") {
		t.Errorf("list after the deletion: %q", rows)
	}
	for _, e := range b.pageLog() {
		if e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity {
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
