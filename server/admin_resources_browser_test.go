package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"idp/server/servertest"
)

// TestAdminResourcesBrowser drives Chromium through a resource's life in
// the console: register one whose URI holds "/", ":", "?" and "%", copy
// its secret, follow the list's link to its page (the browser keeps the
// escaped segment), rename it, and delete it through the confirmation.
func TestAdminResourcesBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	b.do("sign in as the administrator",
		chromedp.Navigate(env.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("profile-heading")),
	)

	b.do("register a resource",
		chromedp.Navigate(env.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`.admin-nav a[href="/admin/resources"]`)),
		chromedp.Click(chromedp.CSS(`.admin-nav a[href="/admin/resources"]`)),
		chromedp.WaitVisible(chromedp.ID("resource-id")),
		chromedp.SendKeys(chromedp.ID("resource-id"), oddURI),
		chromedp.SendKeys(chromedp.ID("resource-name"), "Orders"),
		chromedp.SendKeys(chromedp.ID("resource-scopes"), "orders:read"),
		chromedp.SetValue(chromedp.ID("resource-alg"), "ES256"),
		chromedp.SendKeys(chromedp.ID("resource-ttl"), "120"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/resources"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".secret-box code.secret")),
	)
	secret := b.text(".secret-box code.secret")
	if _, err := env.Resources.Authenticate(t.Context(), oddURI, secret); err != nil {
		t.Fatalf("the shown secret %q: %v", secret, err)
	}
	b.shot("resources-01-created")

	b.do("open its page",
		chromedp.Click(chromedp.CSS(`main table tbody a`)),
		chromedp.WaitVisible(chromedp.ID("edit-name")),
	)
	if h := b.text("h1"); h != "Orders" {
		t.Errorf("resource page heading %q", h)
	}
	if code := b.text(".lead code"); code != oddURI {
		t.Errorf("resource page shows %q, want %q", code, oddURI)
	}
	b.do("rename it",
		chromedp.Clear(chromedp.ID("edit-name")),
		chromedp.SendKeys(chromedp.ID("edit-name"), "Orders v2"),
		chromedp.Click(chromedp.CSS(`form:has(#edit-name) button[type="submit"]`)),
	)
	waitURL(b, "rename", "notice=resource-updated")
	if r, err := env.Resources.Store().ByURI(t.Context(), oddURI); err != nil || r.Name != "Orders v2" || r.SigningAlg != "ES256" {
		t.Fatalf("after the rename: %+v %v", r, err)
	}
	b.shot("resources-02-page")

	const confirm = `form input[name="confirm"][value="yes"] ~ button[type="submit"]`
	b.do("delete it",
		chromedp.Click(chromedp.CSS(`form[action$="/delete"] button`)),
		chromedp.WaitVisible(chromedp.CSS(confirm)),
	)
	if _, err := env.Resources.Store().ByURI(t.Context(), oddURI); err != nil {
		t.Fatalf("deleted before the confirmation: %v", err)
	}
	b.do("confirm the deletion", chromedp.Click(chromedp.CSS(confirm)))
	waitURL(b, "delete", "notice=resource-deleted")
	if rows := b.text("main table tbody"); !strings.Contains(rows, "No resources yet.") {
		t.Errorf("list after the deletion: %q", rows)
	}
	for _, e := range b.pageLog() {
		if e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity {
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
