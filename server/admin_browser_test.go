package server_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"idp/keys"
	"idp/server/servertest"
)

// TestAdminBrowserRotateKey drives Chromium through an emergency rotation
// the way an administrator does it: sign in, open the keys page, press
// "Rotate RS256", read the warning that it is too early (the next key was
// published at bootstrap, moments ago), rotate anyway, and land back on the
// keys page with the notice. The JWKS then carries the fresh next key, and
// the audit page names the administrator and the web as its origin.
func TestAdminBrowserRotateKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	ctx := context.Background()

	before := adminBrowserJWKS(t, env)
	keysBefore, err := env.Keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldActive, oldNext := adminBrowserKey(t, keysBefore, keys.RS256, keys.StateActive), adminBrowserKey(t, keysBefore, keys.RS256, keys.StateNext)

	// 1. Sign in directly: no authorization request, so idp shows the account page.
	b.do("open the sign-in page",
		chromedp.Navigate(env.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
	)
	b.do("sign in as the administrator",
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("profile-heading")),
	)

	// 2. The keys page, with a rotate button per algorithm.
	const rotateRS256 = `form[action="/admin/keys/rotate"]:has(input[name="alg"][value="RS256"]) button[type="submit"]`
	b.do("open the keys page",
		chromedp.Navigate(env.URL+"/admin/keys"),
		chromedp.WaitVisible(chromedp.CSS(rotateRS256)),
	)
	if h := b.text("h1"); h != "Signing keys" {
		t.Errorf("keys page heading %q", h)
	}
	if label := b.text(rotateRS256); label != "Rotate RS256" {
		t.Errorf("rotate button reads %q, want %q", label, "Rotate RS256")
	}
	if body := b.text("main"); !strings.Contains(body, oldActive.KID) || !strings.Contains(body, oldNext.KID) {
		t.Errorf("keys page lacks the RS256 keys %s and %s", oldActive.KID, oldNext.KID)
	}
	b.shot("admin-01-keys")

	// 3. The confirmation warns that it is too early, and nothing rotated yet.
	const confirmButton = `form[action="/admin/keys/rotate"] input[name="confirm"][value="yes"] ~ button[type="submit"]`
	b.do("press Rotate RS256",
		chromedp.Click(chromedp.CSS(rotateRS256)),
		chromedp.WaitVisible(chromedp.CSS(confirmButton)),
	)
	if h := b.text("h1"); h != "Rotate the RS256 signing key?" {
		t.Errorf("confirmation heading %q", h)
	}
	if label := b.text(confirmButton); label != "Rotate anyway" {
		t.Errorf("confirmation button reads %q, want %q (it is too early after bootstrap)", label, "Rotate anyway")
	}
	safeAt, err := env.Keys.SafeAt(ctx, keys.RS256)
	if err != nil {
		t.Fatal(err)
	}
	msg := b.text(".confirm-message")
	if !strings.Contains(msg, "has not been published long enough") ||
		!strings.Contains(msg, safeAt.UTC().Format("2006-01-02 15:04:05 UTC")) ||
		!strings.Contains(msg, "reject new tokens") {
		t.Errorf("confirmation does not warn with the safe time %v:\n%s", safeAt, msg)
	}
	if force := run(b, "force field", chromedp.AttributeValue(chromedp.CSS(`form[action="/admin/keys/rotate"] input[name="force"]`), "value")); force.Value != "1" {
		t.Errorf("confirmation form force=%q, want 1", force.Value)
	}
	if ks, _ := env.Keys.List(ctx); len(ks) != len(keysBefore) {
		t.Fatal("the key rotated before the confirmation")
	}
	b.shot("admin-02-confirm")

	// 4. Rotate anyway: back to the keys page with the notice.
	b.do("rotate anyway",
		chromedp.Click(chromedp.CSS(confirmButton)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success[role="status"]`)),
	)
	if loc := run(b, "location", chromedp.Location()); loc != env.URL+"/admin/keys?notice=rotated" {
		t.Errorf("after rotating at %s", loc)
	}
	if n := b.text(`.alert-success[role="status"]`); !strings.HasPrefix(n, "The key was rotated.") {
		t.Errorf("notice %q", n)
	}
	keysAfter, err := env.Keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newActive, newNext := adminBrowserKey(t, keysAfter, keys.RS256, keys.StateActive), adminBrowserKey(t, keysAfter, keys.RS256, keys.StateNext)
	if newActive.KID != oldNext.KID || newNext.KID == oldNext.KID || newNext.KID == oldActive.KID {
		t.Fatalf("RS256 after rotation: active %s next %s; before: active %s next %s", newActive.KID, newNext.KID, oldActive.KID, oldNext.KID)
	}
	if retired := adminBrowserKey(t, keysAfter, keys.RS256, keys.StateRetired); retired.KID != oldActive.KID {
		t.Errorf("retired %s, want the old active key %s", retired.KID, oldActive.KID)
	}
	if body := b.text("main"); !strings.Contains(body, newNext.KID) {
		t.Errorf("keys page does not list the new next key %s", newNext.KID)
	}
	b.shot("admin-03-rotated")

	// 5. The JWKS gains exactly the new next key: the old active key stays,
	// retired, until its tokens expire. This process invalidated its cache
	// when it rotated; after CacheTTL it has reloaded from the database,
	// and the answer is the same.
	want := slices.Sorted(slices.Values(append(slices.Clone(before), newNext.KID)))
	if got := adminBrowserJWKS(t, env); !slices.Equal(got, want) {
		t.Errorf("JWKS right after the rotation: %v, want %v (before %v plus %s)", got, want, before, newNext.KID)
	}
	env.Clock.Advance(keys.MaxCacheTTL + time.Second)
	if got := adminBrowserJWKS(t, env); !slices.Equal(got, want) {
		t.Errorf("JWKS after the key cache reloaded: %v, want %v", got, want)
	}

	// 6. The audit page records who rotated, from where, and that it was forced.
	b.do("open the audit page",
		chromedp.Navigate(env.URL+"/admin/audit"),
		chromedp.WaitVisible(chromedp.CSS(`main table tbody`)),
	)
	rows := run(b, "audit rows", chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("main table tbody tr"),
		tr => Array.from(tr.cells, td => td.textContent.trim()))`))
	found := false
	for _, r := range rows {
		// Time, Actor, Action, Target, Via, IP address, Detail
		if len(r) == 7 && r[2] == "key.rotated" {
			found = true
			if r[1] != adminEmail || r[3] != newActive.KID || r[4] != "web" ||
				!strings.Contains(r[6], "alg=RS256") || !strings.Contains(r[6], "forced") {
				t.Errorf("audit row %q: want actor %s, target %s, via web, a forced RS256 rotation", r, adminEmail, newActive.KID)
			}
		}
	}
	if !found {
		t.Errorf("the audit page lists no key.rotated event: %q", rows)
	}
	b.shot("admin-04-audit")

	for _, e := range b.pageLog() {
		t.Logf("browser log: %s %s %s %s", e.Level, e.Source, e.Text, e.URL)
		if e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity {
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}

// adminBrowserJWKS fetches the published kids, sorted.
func adminBrowserJWKS(t *testing.T, env *servertest.Env) []string {
	t.Helper()
	resp, err := http.Get(env.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: %d %v", resp.StatusCode, err)
	}
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	set := map[string]bool{}
	for _, k := range doc.Keys {
		set[k.KID] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// adminBrowserKey returns the newest key of alg in state, failing if none.
func adminBrowserKey(t *testing.T, ks []keys.Key, alg, state string) keys.Key {
	t.Helper()
	for _, k := range ks { // newest first
		if k.Alg == alg && k.State == state {
			return k
		}
	}
	t.Fatalf("no %s %s key in %+v", state, alg, ks)
	return keys.Key{}
}
