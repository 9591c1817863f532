package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"idp/clients"
	"idp/server/servertest"
	"idp/upstreams"
)

// TestBrowserContinueWithUpstream drives a real Chromium through a
// federated sign-in (issue #18): a relying party ("Acme Notes") sends the
// browser to idp; the person presses "Continue with Corp", signs in on the
// upstream's own pages (panva's oidc-provider, its development login and
// consent), comes back, allows Acme Notes on idp's consent page, and the
// relying party exchanges its code and verifies the ID token. The sub it
// gets is idp's own user, created at this first sign-in, with amr fed.
func TestBrowserContinueWithUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	a := servertest.New(t)
	up := startOIDCProvider(t, []string{a.URL + upstreams.CallbackPath("corp")},
		[]upstreamAccount{{Login: "grace", Email: fedEmail, Name: "Grace Hopper", Verified: true}})
	b := newBrowser(t) // after the upstream, which may skip the test
	if _, err := a.App.Upstreams.Create(context.Background(), upstreams.Spec{ID: "corp", Name: "Corp", Issuer: up.issuer,
		ClientID: up.clientID, Secret: up.secret, Scopes: up.scopes, JIT: true}); err != nil {
		t.Fatal(err)
	}
	app := newRelyingParty(t)
	client, secret := a.CreateClient(t, clients.Spec{ID: "acme-notes", Name: "Acme Notes", RedirectURIs: []string{app.srv.URL + "/callback"}})
	app.configure(t, a.URL, client.ID, secret)
	// oidc-provider stamps its ID tokens with the wall clock; a checks
	// them against its test clock (see realHarness.syncClock).
	a.Clock.Advance(time.Since(a.Clock.Now()))

	// 1. idp's sign-in page offers the upstream.
	b.do("open the app's sign-in link",
		chromedp.Navigate(app.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("upstream-corp")),
	)
	if s := b.text("#upstream-corp"); !strings.Contains(s, "Continue with Corp") {
		t.Errorf("upstream button says %q", s)
	}
	b.shot("upstream-01-sign-in")

	// 2. The button leads to the upstream's own sign-in page.
	b.do("continue with Corp",
		chromedp.Click(chromedp.ID("upstream-corp")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="login"]`)),
	)
	if loc := run(b, "location", chromedp.Location()); !strings.HasPrefix(loc, up.issuer+"/interaction/") {
		t.Fatalf("upstream sign-in page at %s, want under %s", loc, up.issuer)
	}
	b.shot("upstream-02-upstream-login")

	// 3. Sign in there, and allow idp on the upstream's consent page.
	b.do("sign in at the upstream",
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), "grace"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "any password will do"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="prompt"][value="consent"] ~ button[type="submit"]`)),
	)
	b.shot("upstream-03-upstream-consent")
	b.do("allow idp at the upstream",
		chromedp.Click(chromedp.CSS(`input[name="prompt"][value="consent"] ~ button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/consent"] button[value="allow"]`)),
	)

	// 4. Back at idp: its own consent page for Acme Notes, then the app.
	if loc := run(b, "location", chromedp.Location()); !strings.HasPrefix(loc, a.URL+"/consent") {
		t.Errorf("after the upstream, at %s, want idp's consent page", loc)
	}
	if body := b.text("main"); !strings.Contains(body, fedEmail) {
		t.Errorf("consent page lacks the federated user:\n%s", body)
	}
	b.shot("upstream-04-idp-consent")
	b.do("allow Acme Notes",
		chromedp.Click(chromedp.CSS(`form[action="/consent"] button[value="allow"]`)),
		chromedp.WaitVisible(chromedp.ID("rp-result")),
	)
	b.shot("upstream-05-rp-result")

	out := app.outcomes()
	if len(out) != 1 || out[0].Err != nil {
		t.Fatalf("relying party results %+v; page: %s", out, b.text("main"))
	}
	user, err := a.Users.Store().ByEmail(context.Background(), fedEmail)
	if err != nil {
		t.Fatalf("no user made at the first federated sign-in: %v", err)
	}
	if out[0].Subject != user.ID || out[0].Subject == "grace" || out[0].Email != fedEmail || !slices.Contains(out[0].AMR, "fed") {
		t.Errorf("relying party signed in sub %q email %q amr %v; want idp's %q, %q, fed", out[0].Subject, out[0].Email, out[0].AMR, user.ID, fedEmail)
	}
	if got := b.text("#rp-email"); got != fedEmail {
		t.Errorf("app shows %q, want %q", got, fedEmail)
	}

	// No CSP violation or script error on idp's pages (the upstream's
	// development pages are not idp's to judge).
	for _, e := range b.pageLog() {
		t.Logf("browser log: %s %s %s %s", e.Level, e.Source, e.Text, e.URL)
		if strings.HasPrefix(e.URL, a.URL) && (e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity) {
			t.Errorf("browser reported on idp's page: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
