package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"idp/audit"
	"idp/server/servertest"
	"idp/upstreams"
)

// Confirm-to-link, the account page's connected accounts and unlink, and
// idp_upstream_failures_total (issue #18), through both providers of
// upstream_test.go: b is the upstream, a the provider under test.

const localPassword = "marble orchestra pinecone 7"

var signInLinkRE = regexp.MustCompile(`class="button button-primary button-block" href="([^"]*)"`)

// toPending runs an upstream sign-in that finds a's existing account and
// checks the page that asks to sign in to it; it returns that page's
// sign-in link. Nothing is linked yet.
func (f *fed) toPending(t *testing.T) string {
	t.Helper()
	resp, page := f.a.Get(t, f.br, f.toCallback(t, fedEmail, fedPassword).String())
	body := html.UnescapeString(page.Body)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "An account with "+fedEmail+" already exists here") ||
		!strings.Contains(body, "Sign in to it to connect your Corp account") {
		t.Fatalf("callback: %d %.800s", resp.StatusCode, page.Body)
	}
	if f.linkCookie(t) == "" {
		t.Fatal("no pending link cookie")
	}
	if _, links := f.counts(t); links != 0 {
		t.Fatalf("%d links before any confirmation", links)
	}
	m := signInLinkRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no sign-in button: %.800s", page.Body)
	}
	return html.UnescapeString(m[1])
}

// signIn follows the sign-in link and signs in with a password; it
// returns the answer (the confirm page, when the hook offers the link).
func (f *fed) signIn(t *testing.T, link, email, password string) (*http.Response, *servertest.Page) {
	t.Helper()
	resp, page := f.a.Get(t, f.br, link)
	if resp.StatusCode != http.StatusOK || page.CSRF() == "" {
		t.Fatalf("sign-in page %s: %d", link, resp.StatusCode)
	}
	form := url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "email": {email}, "password": {password}}
	return f.a.PostForm(t, f.br, "/login", form)
}

var linkNextRE = regexp.MustCompile(`name="next" value="([^"]*)"`)

// decide posts the confirm page's form with decision (and the page's
// CSRF token unless csrf is false).
func (f *fed) decide(t *testing.T, page *servertest.Page, decision string, csrf bool) (*http.Response, *servertest.Page) {
	t.Helper()
	form := url.Values{"req": {page.RequestID()}, "decision": {decision}}
	if m := linkNextRE.FindStringSubmatch(page.Body); m != nil {
		form.Set("next", html.UnescapeString(m[1]))
	}
	if csrf {
		form.Set("csrf_token", page.CSRF())
	}
	return f.a.PostForm(t, f.br, "/login/link", form)
}

// redeem follows a's redirects to the RP and returns its ID token claims.
func (f *fed) redeem(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	loc := servertest.Location(t, resp)
	if strings.HasPrefix(loc.String(), f.a.URL+"/") {
		loc = f.a.Authorize(t, f.br, loc.String(), "", "")
	}
	return f.exchange(t, loc)
}

func (f *fed) linkCookie(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(f.a.URL)
	for _, c := range f.br.Jar.Cookies(u) {
		if c.Name == "idp_upstream_link" {
			return c.Value
		}
	}
	return ""
}

func (f *fed) setLinkCookie(t *testing.T, v string) {
	t.Helper()
	u, _ := url.Parse(f.a.URL)
	f.br.Jar.SetCookies(u, []*http.Cookie{{Name: "idp_upstream_link", Value: v, Path: "/"}})
}

// pendingRows counts the pending links a keeps.
func (f *fed) pendingRows(t *testing.T) int {
	t.Helper()
	var n int64
	if err := f.a.DB.Gorm.Table("upstream_pending_links").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// audited returns a's audit events of action.
func (f *fed) audited(t *testing.T, action string) []audit.Event {
	t.Helper()
	events, err := f.a.Audit.List(context.Background(), time.Time{}, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func wantConfirm(t *testing.T, resp *http.Response, page *servertest.Page) {
	t.Helper()
	body := html.UnescapeString(page.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Connect your Corp account ("+fedEmail+") to this account") ||
		!strings.Contains(body, "From now on you can sign in with Corp.") {
		t.Fatalf("after the sign-in: %d, want the confirm page: %.800s", resp.StatusCode, page.Body)
	}
}

// TestUpstreamConfirmLink: no --link-by-email, an account with the email
// exists. The upstream sign-in links nothing; its owner signs in with the
// password and connects; the RP gets the account's own sub, and the next
// sign-in through the upstream goes straight in as that account.
func TestUpstreamConfirmLink(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	local := f.a.CreateUser(t, fedEmail, localPassword)
	f.b.CreateUser(t, fedEmail, fedPassword)

	resp, page := f.signIn(t, f.toPending(t), fedEmail, localPassword)
	wantConfirm(t, resp, page)
	if _, links := f.counts(t); links != 0 {
		t.Fatalf("%d links before Connect", links)
	}
	if len(f.audited(t, "upstream.link")) != 0 {
		t.Fatal("audited a link before Connect")
	}
	resp, _ = f.decide(t, page, "connect", true)
	claims := f.redeem(t, resp)
	if claims["sub"] != local.ID {
		t.Fatalf("sub %v, want the account's %s", claims["sub"], local.ID)
	}
	if _, links := f.counts(t); links != 1 || f.pendingRows(t) != 0 || f.linkCookie(t) != "" {
		t.Fatalf("%d links, %d pending, cookie %q after Connect", links, f.pendingRows(t), f.linkCookie(t))
	}
	if ev := f.audited(t, "upstream.link"); len(ev) != 1 || ev[0].Target != local.ID || ev[0].Detail != "upstream=corp" ||
		ev[0].Actor != fedEmail {
		t.Fatalf("upstream.link audit %+v", ev)
	}

	// The next sign-in through the upstream goes straight in.
	f.br = f.a.Browser(t)
	claims = f.finish(t, f.toCallback(t, fedEmail, fedPassword))
	if claims["sub"] != local.ID || !slices.Contains(amrOf(claims), "fed") {
		t.Fatalf("upstream sign-in after the link: sub %v amr %v, want %s with fed", claims["sub"], claims["amr"], local.ID)
	}
}

// TestUpstreamConfirmLinkNotNow: "Not now" links nothing, spends the
// pending link and still finishes the sign-in; the next upstream sign-in
// asks again.
func TestUpstreamConfirmLinkNotNow(t *testing.T) {
	f := newFed(t, upstreams.Spec{LinkByEmail: true}) // b never says email_verified here
	local := f.a.CreateUser(t, fedEmail, localPassword)
	f.b.CreateUser(t, fedEmail, fedPassword)
	resp, page := f.signIn(t, f.toPending(t), fedEmail, localPassword)
	wantConfirm(t, resp, page)
	resp, _ = f.decide(t, page, "skip", true)
	if claims := f.redeem(t, resp); claims["sub"] != local.ID || slices.Contains(amrOf(claims), "fed") {
		t.Fatalf("Not now: sub %v amr %v, want the password sign-in of %s", claims["sub"], claims["amr"], local.ID)
	}
	if _, links := f.counts(t); links != 0 || f.pendingRows(t) != 0 {
		t.Fatalf("%d links, %d pending after Not now", links, f.pendingRows(t))
	}
	f.br = f.a.Browser(t)
	f.toPending(t)
}

// TestUpstreamConfirmLinkOtherAccount: signing in to another account
// than the one with the upstream's email links nothing, says so, and
// spends the pending link; a Connect posted anyway is refused.
func TestUpstreamConfirmLinkOtherAccount(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	f.a.CreateUser(t, fedEmail, localPassword)
	other := f.a.CreateUser(t, "mallory@example.com", "copper kettle snowdrift 19")
	f.b.CreateUser(t, fedEmail, fedPassword)
	resp, page := f.signIn(t, f.toPending(t), "mallory@example.com", "copper kettle snowdrift 19")
	body := html.UnescapeString(page.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You signed in to another account than the one with "+fedEmail) ||
		strings.Contains(body, `value="connect"`) {
		t.Fatalf("other account: %d %.800s", resp.StatusCode, page.Body)
	}
	if f.pendingRows(t) != 0 {
		t.Fatal("the pending link survived a sign-in to another account")
	}
	resp, refused := f.decide(t, page, "connect", true)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(refused.Body, "was not connected") {
		t.Fatalf("Connect posted anyway: %d %.600s", resp.StatusCode, refused.Body)
	}
	if _, links := f.counts(t); links != 0 || len(f.audited(t, "upstream.link")) != 0 {
		t.Fatalf("%d links after a sign-in to another account", links)
	}
	resp, _ = f.decide(t, refused, "skip", true) // Continue
	if claims := f.redeem(t, resp); claims["sub"] != other.ID {
		t.Fatalf("continue: sub %v, want %s", claims["sub"], other.ID)
	}
}

// TestUpstreamConfirmLinkBadToken: a used, an expired and a forged
// pending-link token link nothing.
func TestUpstreamConfirmLinkBadToken(t *testing.T) {
	t.Run("replayed", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{})
		f.a.CreateUser(t, fedEmail, localPassword)
		f.b.CreateUser(t, fedEmail, fedPassword)
		link := f.toPending(t)
		token := f.linkCookie(t)
		resp, page := f.signIn(t, link, fedEmail, localPassword)
		wantConfirm(t, resp, page)
		resp, _ = f.decide(t, page, "skip", true)
		f.redeem(t, resp)
		// The same token again, with a fresh sign-in: nothing to confirm.
		f.br = f.a.Browser(t)
		f.setLinkCookie(t, token)
		resp, page = f.signIn(t, "/login", fedEmail, localPassword)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "has expired or was already used") ||
			strings.Contains(page.Body, `value="connect"`) {
			t.Fatalf("replayed token: %d %.800s", resp.StatusCode, page.Body)
		}
		f.setLinkCookie(t, token)
		if resp, _ := f.decide(t, page, "connect", true); resp.StatusCode != http.StatusConflict {
			t.Fatalf("Connect with a replayed token: %d", resp.StatusCode)
		}
		if _, links := f.counts(t); links != 0 {
			t.Fatalf("%d links after a replay", links)
		}
	})
	t.Run("expired", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{})
		f.a.CreateUser(t, fedEmail, localPassword)
		f.b.CreateUser(t, fedEmail, fedPassword)
		// Started from the sign-in page alone (no RP request, which
		// would expire too).
		resp, _ := f.a.Get(t, f.br, "/login/upstream/corp")
		cb := f.b.Authorize(t, f.br, servertest.Location(t, resp).String(), fedEmail, fedPassword)
		if resp, _ := f.a.Get(t, f.br, cb.String()); resp.StatusCode != http.StatusConflict {
			t.Fatalf("callback: %d", resp.StatusCode)
		}
		f.a.Clock.Advance(upstreams.PendingLinkTTL + time.Second)
		resp, page := f.signIn(t, "/login", fedEmail, localPassword)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "has expired or was already used") {
			t.Fatalf("expired token: %d %.800s", resp.StatusCode, page.Body)
		}
		if resp, _ := f.decide(t, page, "connect", true); resp.StatusCode != http.StatusConflict {
			t.Fatalf("Connect after expiry: %d", resp.StatusCode)
		}
		if _, links := f.counts(t); links != 0 {
			t.Fatalf("%d links after expiry", links)
		}
		// The purge forgets the expired row.
		if _, err := f.a.App.Purge(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
		if f.pendingRows(t) != 0 {
			t.Fatal("the purge kept an expired pending link")
		}
	})
	t.Run("forged", func(t *testing.T) {
		f := newFed(t, upstreams.Spec{})
		f.a.CreateUser(t, fedEmail, localPassword)
		f.setLinkCookie(t, "forged-token-that-was-never-issued")
		resp, page := f.signIn(t, "/login", fedEmail, localPassword)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "has expired or was already used") {
			t.Fatalf("forged token: %d %.800s", resp.StatusCode, page.Body)
		}
		if _, links := f.counts(t); links != 0 {
			t.Fatalf("%d links", links)
		}
	})
}

// TestUpstreamConfirmLinkNeedsCSRF: Connect without the form token is
// refused and links nothing; the pending link survives for the real form.
func TestUpstreamConfirmLinkNeedsCSRF(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	f.a.CreateUser(t, fedEmail, localPassword)
	f.b.CreateUser(t, fedEmail, fedPassword)
	resp, page := f.signIn(t, f.toPending(t), fedEmail, localPassword)
	wantConfirm(t, resp, page)
	if resp, _ := f.decide(t, page, "connect", false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Connect without CSRF: %d", resp.StatusCode)
	}
	if _, links := f.counts(t); links != 0 || f.pendingRows(t) != 1 {
		t.Fatalf("%d links, %d pending after a forged post", links, f.pendingRows(t))
	}
	resp, _ = f.decide(t, page, "connect", true)
	f.redeem(t, resp)
	if _, links := f.counts(t); links != 1 {
		t.Fatalf("%d links after the real Connect", links)
	}
}

// account fetches a's account page in the browser.
func (f *fed) account(t *testing.T) *servertest.Page {
	t.Helper()
	resp, page := f.a.Get(t, f.br, "/account")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("account page: %d", resp.StatusCode)
	}
	return page
}

// unlink posts the account page's Disconnect form and then its
// confirmation, returning the final answer.
func (f *fed) unlink(t *testing.T, upstreamID, sub string) *http.Response {
	t.Helper()
	page := f.account(t)
	form := url.Values{"csrf_token": {page.CSRF()}, "upstream": {upstreamID}, "sub": {sub}}
	resp, confirm := f.a.PostForm(t, f.br, "/account/upstreams/unlink", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "Disconnect your") {
		t.Fatalf("unlink confirmation: %d %.600s", resp.StatusCode, confirm.Body)
	}
	if _, links := f.counts(t); links == 0 {
		t.Fatal("the confirmation page already unlinked")
	}
	form.Set("confirm", "yes")
	form.Set("csrf_token", confirm.CSRF())
	resp, _ = f.a.PostForm(t, f.br, "/account/upstreams/unlink", form)
	return resp
}

// subOf is the upstream sub of user's only link at a.
func (f *fed) subOf(t *testing.T, userID string) string {
	t.Helper()
	links, err := f.a.App.Upstreams.Store().LinksOf(context.Background(), userID)
	if err != nil || len(links) != 1 {
		t.Fatalf("links of %s: %v %v", userID, links, err)
	}
	return links[0].Subject
}

// TestUpstreamAccountUnlink: the account page lists the link; unlink asks
// first, is audited, and afterwards the upstream account no longer signs
// in as the user (its next sign-in is a first one again).
func TestUpstreamAccountUnlink(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	local := f.a.CreateUser(t, fedEmail, localPassword)
	f.b.CreateUser(t, fedEmail, fedPassword)
	resp, page := f.signIn(t, f.toPending(t), fedEmail, localPassword)
	wantConfirm(t, resp, page)
	resp, _ = f.decide(t, page, "connect", true)
	f.redeem(t, resp)

	body := html.UnescapeString(f.account(t).Body)
	for _, want := range []string{"Connected accounts", "Corp", fedEmail, "Connected ", "Last used ", `action="/account/upstreams/unlink"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("account page lacks %q", want)
		}
	}
	sub := f.subOf(t, local.ID)
	// Bad input: a link of nobody, and no CSRF token.
	page = f.account(t)
	if resp, _ := f.a.PostForm(t, f.br, "/account/upstreams/unlink", url.Values{"csrf_token": {page.CSRF()},
		"upstream": {"corp"}, "sub": {"someone-else"}, "confirm": {"yes"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown link: %d", resp.StatusCode)
	}
	if resp, _ := f.a.PostForm(t, f.br, "/account/upstreams/unlink", url.Values{"upstream": {"corp"}, "sub": {sub},
		"confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unlink without CSRF: %d", resp.StatusCode)
	}
	if _, links := f.counts(t); links != 1 {
		t.Fatal("a refused unlink removed the link")
	}

	resp = f.unlink(t, "corp", sub)
	if loc := servertest.Location(t, resp); loc.Path != "/account" || loc.Query().Get("notice") != "unlinked" {
		t.Fatalf("unlink: sent to %s", loc)
	}
	if _, links := f.counts(t); links != 0 {
		t.Fatalf("%d links after unlink", links)
	}
	if ev := f.audited(t, "upstream.unlink"); len(ev) != 1 || ev[0].Target != local.ID || ev[0].Detail != "upstream=corp" {
		t.Fatalf("upstream.unlink audit %+v", ev)
	}
	if strings.Contains(f.account(t).Body, "Connected accounts") {
		t.Error("the account page still lists the link")
	}
	// The upstream account is a stranger again.
	f.br = f.a.Browser(t)
	f.toPending(t)
}

// TestUpstreamUnlinkLastWay: a JIT user has no password, so their only
// link stays, until they set a password or have a second link.
func TestUpstreamUnlinkLastWay(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"password", "second link"} {
		t.Run(how, func(t *testing.T) {
			f := newFed(t, upstreams.Spec{JIT: true})
			f.b.CreateUser(t, fedEmail, fedPassword)
			f.finish(t, f.toCallback(t, fedEmail, fedPassword))
			user, err := f.a.Users.Store().ByEmail(ctx, fedEmail)
			if err != nil || user.HasPassword() {
				t.Fatalf("JIT user %+v, %v: want one without a password", user, err)
			}
			if _, err := f.a.Users.Authenticate(ctx, fedEmail, ""); err == nil {
				t.Fatal("an empty password signs in to the JIT user")
			}
			sub := f.subOf(t, user.ID)
			page := f.account(t)
			if !strings.Contains(page.Body, "only way to sign in") || strings.Contains(page.Body, `name="sub"`) {
				t.Fatalf("account page offers to remove the last way in: %.2000s", page.Body)
			}
			resp := f.unlink(t, "corp", sub)
			if loc := servertest.Location(t, resp); loc.Query().Get("notice") != "last-link" {
				t.Fatalf("last link: sent to %s", loc)
			}
			if _, links := f.counts(t); links != 1 || len(f.audited(t, "upstream.unlink")) != 0 {
				t.Fatalf("%d links after refusing the last one", links)
			}
			switch how {
			case "password":
				// Set on the account page, right after the upstream sign-in
				// (so no current password is asked, and none exists).
				page := f.account(t)
				resp, _ := f.a.PostForm(t, f.br, "/account/password", url.Values{"csrf_token": {page.CSRF()},
					"new_password": {localPassword}, "confirm_password": {localPassword}})
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("setting a password: %d", resp.StatusCode)
				}
				if u, _ := f.a.Users.Store().ByID(ctx, user.ID); !u.HasPassword() {
					t.Fatal("no password after setting one")
				}
			case "second link":
				if _, err := f.a.App.Upstreams.Create(ctx, upstreams.Spec{ID: "other", Name: "Other", Issuer: f.b.URL, ClientID: "x"}); err != nil {
					t.Fatal(err)
				}
				now := f.a.Clock.Now()
				if err := f.a.DB.Gorm.Exec("INSERT INTO upstream_links (upstream_id, upstream_sub, user_id, email, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
					"other", "other-sub", user.ID, fedEmail, now, now).Error; err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(f.account(t).Body, `name="sub" value="`+sub+`"`) {
				t.Fatal("no Disconnect form once there is another way in")
			}
			resp = f.unlink(t, "corp", sub)
			if loc := servertest.Location(t, resp); loc.Query().Get("notice") != "unlinked" {
				t.Fatalf("unlink with another way in: sent to %s", loc)
			}
			if len(f.audited(t, "upstream.unlink")) != 1 {
				t.Fatal("unlink not audited")
			}
		})
	}
}

// TestUpstreamFailureMetric: a forged and a refused sign-in are counted
// under the upstream's id; a callback path naming no upstream is not a
// label value.
func TestUpstreamFailureMetric(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	f.b.CreateUser(t, fedEmail, fedPassword)
	cb := f.toCallback(t, fedEmail, fedPassword)
	victim := f.a.Browser(t) // without the state cookie: forged
	if resp, _ := f.a.Get(t, victim, cb.String()); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged: %d", resp.StatusCode)
	}
	// No account and no --jit: refused.
	f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusForbidden, "You have no account here", "--jit is off")
	// An account with the email, not linked automatically: link_refused
	// (the pending link waits for its owner).
	f.a.CreateUser(t, fedEmail, localPassword)
	f.br = f.a.Browser(t)
	f.toPending(t)
	if resp, _ := f.a.Get(t, victim, "/login/upstream/nosuch/callback?state=x"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown upstream callback: %d", resp.StatusCode)
	}
	resp, err := http.Get(f.a.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`idp_upstream_failures_total{reason="forged",upstream="corp"} 1`,
		`idp_upstream_failures_total{reason="no_account",upstream="corp"} 1`,
		`idp_upstream_failures_total{reason="link_refused",upstream="corp"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), `upstream="nosuch"`) {
		t.Error("an unknown upstream id became a label value")
	}
}

// TestUpstreamConfirmLinkAfterSecondFactor: the owner's sign-in is only
// complete after their authenticator app, and only then is the link
// offered.
func TestUpstreamConfirmLinkAfterSecondFactor(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	local := f.a.CreateUser(t, fedEmail, localPassword)
	f.b.CreateUser(t, fedEmail, fedPassword)
	if resp, _ := f.signIn(t, "/login", fedEmail, localPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", resp.StatusCode)
	}
	secret, _ := enrollTOTPFromAccount(t, f.a, f.br)

	f.br = f.a.Browser(t)
	resp, _ := f.signIn(t, f.toPending(t), fedEmail, localPassword)
	loc := servertest.Location(t, resp)
	if loc.Path != "/login/mfa" {
		t.Fatalf("the password went to %s, want the second factor first", loc)
	}
	_, mfaPage := f.a.Get(t, f.br, loc.String())
	nextStep(f.a)
	resp, page := postFactor(t, f.a, f.br, mfaPage, "/login/mfa/totp", codeAt(t, secret, f.a.Clock.Now()))
	wantConfirm(t, resp, page)
	resp, _ = f.decide(t, page, "connect", true)
	claims := f.redeem(t, resp)
	if claims["sub"] != local.ID || !slices.Contains(amrOf(claims), "otp") {
		t.Fatalf("sub %v amr %v, want %s with otp", claims["sub"], claims["amr"], local.ID)
	}
	if _, links := f.counts(t); links != 1 {
		t.Fatalf("%d links", links)
	}
}

// TestUpstreamConfirmLinkWhenSignedIn: a browser already signed in to the
// account (no RP request) still has to sign in again: the old session is
// not offered the link, a new sign-in is.
func TestUpstreamConfirmLinkWhenSignedIn(t *testing.T) {
	f := newFed(t, upstreams.Spec{})
	local := f.a.CreateUser(t, fedEmail, localPassword)
	f.b.CreateUser(t, fedEmail, fedPassword)
	if resp, _ := f.signIn(t, "/login", fedEmail, localPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", resp.StatusCode)
	}
	f.a.Clock.Advance(time.Second)
	resp, _ := f.a.Get(t, f.br, "/login/upstream/corp?next=/account")
	// At b in a browser of its own: both providers listen on 127.0.0.1,
	// and cookies do not tell ports apart, so b's session cookie would
	// replace a's.
	cb := f.b.Authorize(t, f.b.Browser(t), servertest.Location(t, resp).String(), fedEmail, fedPassword)
	resp, page := f.a.Get(t, f.br, cb.String())
	m := signInLinkRE.FindStringSubmatch(page.Body)
	if resp.StatusCode != http.StatusConflict || m == nil {
		t.Fatalf("callback: %d %.600s", resp.StatusCode, page.Body)
	}
	// The old session alone offers nothing.
	if body := f.account(t).Body; strings.Contains(body, `value="connect"`) {
		t.Fatal("the account page offered the link to the old session")
	}
	f.a.Clock.Advance(time.Second)
	resp, page = f.signIn(t, html.UnescapeString(m[1]), fedEmail, localPassword)
	wantConfirm(t, resp, page)
	resp, _ = f.decide(t, page, "connect", true)
	if loc := servertest.Location(t, resp); loc.Path != "/account" {
		t.Fatalf("Connect went to %s, want /account", loc)
	}
	if links, err := f.a.App.Upstreams.Store().LinksOf(context.Background(), local.ID); err != nil || len(links) != 1 {
		t.Fatalf("links %v, %v", links, err)
	}
}
