package server_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"idp/audit"
	"idp/server/servertest"
)

// Confirm-to-link and unlink against the real upstreams of
// upstream_real_test.go (rows confirm-link, confirm-skip and unlink of
// realScenarios). Every form of a these scenarios post is fetched after
// the browser's last trip through the upstream: when the upstream is an
// idp on 127.0.0.1 too, its cookies (idp_session, idp_csrf) share a's
// names and, cookies ignoring ports, replace a's in the jar until a sets
// its own again.

// realConfirmLink: no --link-by-email, an account with the upstream's
// email exists. The upstream sign-in links nothing and asks to sign in to
// that account; after its password and Connect, the RP gets the account's
// own sub (the one a password sign-in gives), the link is audited, and the
// next upstream sign-in goes straight in as that account.
func realConfirmLink(t *testing.T, h *realHarness, sc realScenario) {
	acct := sc.account()
	local := h.a.CreateUser(t, acct.Email, localPassword)
	byPassword := h.passwordSignIn(t, acct.Email)
	usersBefore, _ := rows(t, h.a, sc.name)

	br, cb := h.toCallback(t, sc.name, acct)
	resp, page := h.ownerSignIn(t, br, h.toPending(t, br, cb, sc), acct.Email)
	h.wantConfirm(t, resp, page, sc)
	if _, links := rows(t, h.a, sc.name); links != 0 || len(auditsFor(t, h.a, "upstream.link", sc.name)) != 0 {
		t.Fatalf("%d links (or an upstream.link audit) before Connect", links)
	}
	got := h.toRP(t, br, h.decide(t, br, page, "connect"))
	if got.id["sub"] != local.ID || byPassword.id["sub"] != local.ID {
		t.Errorf("sub after Connect %v, by password %v; want both %s", got.id["sub"], byPassword.id["sub"], local.ID)
	}
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 1 || linkCookieOf(t, h.a, br) != "" {
		t.Fatalf("after Connect: %d users (%d before), %d links, link cookie %q", n, usersBefore, links, linkCookieOf(t, h.a, br))
	}
	if sub, user := linkedSub(t, h.a, sc.name); user != local.ID || sub != h.up.subs[acct.Login] {
		t.Errorf("link %s→%s, want the upstream's %s → %s", sub, user, h.up.subs[acct.Login], local.ID)
	}
	if ev := auditsFor(t, h.a, "upstream.link", sc.name); len(ev) != 1 || ev[0].Target != local.ID || ev[0].Actor != acct.Email {
		t.Errorf("upstream.link audits %+v, want one of %s by %s", ev, local.ID, acct.Email)
	}

	// The next sign-in through the upstream, in a fresh browser, takes the link.
	again := h.signIn(t, sc.name, acct)
	if again.id["sub"] != local.ID || !slices.Contains(amrOf(again.id), "fed") {
		t.Errorf("upstream sign-in after Connect: sub %v amr %v, want %s with fed", again.id["sub"], again.id["amr"], local.ID)
	}
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 1 {
		t.Errorf("after the second sign-in: %d users (%d before), %d links", n, usersBefore, links)
	}
}

// realConfirmSkip: --link-by-email, but the upstream does not vouch for
// the email, so the same question is asked; Not now links nothing, spends
// the pending link and finishes the password sign-in; the next upstream
// sign-in asks again.
func realConfirmSkip(t *testing.T, h *realHarness, sc realScenario) {
	acct := sc.account()
	local := h.a.CreateUser(t, acct.Email, localPassword)
	br, cb := h.toCallback(t, sc.name, acct)
	resp, page := h.ownerSignIn(t, br, h.toPending(t, br, cb, sc), acct.Email)
	h.wantConfirm(t, resp, page, sc)
	got := h.toRP(t, br, h.decide(t, br, page, "skip"))
	if got.id["sub"] != local.ID || slices.Contains(amrOf(got.id), "fed") {
		t.Errorf("Not now: sub %v amr %v, want the password sign-in of %s", got.id["sub"], got.id["amr"], local.ID)
	}
	if _, links := rows(t, h.a, sc.name); links != 0 || pendingLinks(t, h.a, sc.name) != 0 {
		t.Fatalf("%d links, %d pending after Not now", links, pendingLinks(t, h.a, sc.name))
	}
	br, cb = h.toCallback(t, sc.name, acct)
	h.toPending(t, br, cb, sc)
}

// realUnlink: a JIT user's only way to sign in is the link, so the
// account page offers no Disconnect and a forced one is refused; once
// the user has set a password, Disconnect (after its confirmation) removes
// the link, audited, and the next sign-in through the upstream is a first
// one again: the account with the email exists, so it asks to sign in to
// it instead of signing in.
func realUnlink(t *testing.T, h *realHarness, sc realScenario) {
	ctx := context.Background()
	acct := sc.account()
	br, cb := h.toCallback(t, sc.name, acct)
	h.finish(t, br, cb) // br is now signed in at a
	user, err := h.a.Users.Store().ByEmail(ctx, acct.Email)
	if err != nil || user.HasPassword() {
		t.Fatalf("JIT user %+v, %v: want one without a password", user, err)
	}
	sub, _ := linkedSub(t, h.a, sc.name)
	usersBefore, _ := rows(t, h.a, sc.name)

	page := h.accountPage(t, br)
	body := html.UnescapeString(page.Body)
	for _, want := range []string{"Connected accounts", "Corp " + sc.name, acct.Email, "This is your only way to sign in"} {
		if !strings.Contains(body, want) {
			t.Fatalf("account page lacks %q: %.3000s", want, page.Body)
		}
	}
	if strings.Contains(page.Body, `name="sub"`) {
		t.Fatal("the account page offers to disconnect the only way to sign in")
	}
	resp, _ := h.a.PostForm(t, br, "/account/upstreams/unlink", url.Values{"csrf_token": {page.CSRF()},
		"upstream": {sc.name}, "sub": {sub}, "confirm": {"yes"}})
	if loc := servertest.Location(t, resp); loc.Query().Get("notice") != "last-link" {
		t.Fatalf("unlink of the last way in: sent to %s", loc)
	}
	if _, links := rows(t, h.a, sc.name); links != 1 || len(auditsFor(t, h.a, "upstream.unlink", sc.name)) != 0 {
		t.Fatalf("%d links after refusing to remove the last way in", links)
	}

	// A password (no current one is asked right after a sign-in, and there
	// is none), and then Disconnect is offered and works.
	page = h.accountPage(t, br)
	resp, _ = h.a.PostForm(t, br, "/account/password", url.Values{"csrf_token": {page.CSRF()},
		"new_password": {localPassword}, "confirm_password": {localPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting a password: %d", resp.StatusCode)
	}
	page = h.accountPage(t, br)
	if !strings.Contains(page.Body, `name="sub" value="`+html.EscapeString(sub)+`"`) {
		t.Fatalf("no Disconnect form once a password is set: %.3000s", page.Body)
	}
	form := url.Values{"csrf_token": {page.CSRF()}, "upstream": {sc.name}, "sub": {sub}}
	resp, confirm := h.a.PostForm(t, br, "/account/upstreams/unlink", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "Disconnect your Corp "+sc.name+" account?") {
		t.Fatalf("Disconnect: %d, want its confirmation page: %.800s", resp.StatusCode, confirm.Body)
	}
	if _, links := rows(t, h.a, sc.name); links != 1 {
		t.Fatal("the confirmation page already unlinked")
	}
	form.Set("csrf_token", confirm.CSRF())
	form.Set("confirm", "yes")
	resp, _ = h.a.PostForm(t, br, "/account/upstreams/unlink", form)
	if loc := servertest.Location(t, resp); loc.Path != "/account" || loc.Query().Get("notice") != "unlinked" {
		t.Fatalf("confirmed Disconnect: sent to %s", loc)
	}
	if _, links := rows(t, h.a, sc.name); links != 0 {
		t.Fatalf("%d links after Disconnect", links)
	}
	if ev := auditsFor(t, h.a, "upstream.unlink", sc.name); len(ev) != 1 || ev[0].Target != user.ID || ev[0].Actor != acct.Email {
		t.Errorf("upstream.unlink audits %+v, want one of %s by %s", ev, user.ID, acct.Email)
	}
	if strings.Contains(h.accountPage(t, br).Body, "Connected accounts") {
		t.Error("the account page still lists the link")
	}

	// The upstream account is a stranger again: --jit makes no second
	// account for an email that exists, and nothing is linked by itself.
	br, cb = h.toCallback(t, sc.name, acct)
	h.toPending(t, br, cb, sc)
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 0 {
		t.Errorf("after the first sign-in again: %d users (%d before), %d links", n, usersBefore, links)
	}
}

// passwordSignIn is an RP sign-in at a with email and localPassword, in a
// browser of its own.
func (h *realHarness) passwordSignIn(t *testing.T, email string) fedTokens {
	t.Helper()
	h.syncClock()
	loc := h.a.Authorize(t, h.a.Browser(t), h.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")), email, localPassword)
	return h.redeem(t, loc.Query().Get("code"))
}

// toPending follows the callback cb, which finds sc's account at a and
// may not link it by itself: it checks the page that asks to sign in to
// that account, the pending link's cookie, the audited link_refused and
// that nothing is linked, and returns the page's sign-in link.
func (h *realHarness) toPending(t *testing.T, br *http.Client, cb *url.URL, sc realScenario) string {
	t.Helper()
	email := sc.account().Email
	audits := failureAudits(t, h.a, sc.name, "link_refused")
	resp, page := h.a.Get(t, br, cb.String())
	body := html.UnescapeString(page.Body)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "An account with "+email+" already exists here") ||
		!strings.Contains(body, "Sign in to it to connect your Corp "+sc.name+" account") {
		t.Fatalf("callback: %d, want the page asking to sign in to %s: %.800s", resp.StatusCode, email, page.Body)
	}
	if linkCookieOf(t, h.a, br) == "" {
		t.Fatal("no pending link cookie")
	}
	if _, links := rows(t, h.a, sc.name); links != 0 || pendingLinks(t, h.a, sc.name) != 1 {
		t.Fatalf("%d links, %d pending; want only a pending link", links, pendingLinks(t, h.a, sc.name))
	}
	if n := failureAudits(t, h.a, sc.name, "link_refused"); n != audits+1 {
		t.Errorf("%d new audit signin.failure reason=link_refused, want 1", n-audits)
	}
	m := signInLinkRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no Sign in button: %.800s", page.Body)
	}
	return html.UnescapeString(m[1])
}

// ownerSignIn follows the pending page's sign-in link and signs in there
// with email and localPassword, returning a's answer.
func (h *realHarness) ownerSignIn(t *testing.T, br *http.Client, link, email string) (*http.Response, *servertest.Page) {
	t.Helper()
	resp, page := h.a.Get(t, br, link)
	if resp.StatusCode != http.StatusOK || page.CSRF() == "" || page.RequestID() == "" {
		t.Fatalf("sign-in page %s: %d, want a form for the RP's request: %.600s", link, resp.StatusCode, page.Body)
	}
	return h.a.PostForm(t, br, "/login", url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()},
		"email": {email}, "password": {localPassword}})
}

// wantConfirm checks that a's answer is the question whether to connect
// sc's upstream account.
func (h *realHarness) wantConfirm(t *testing.T, resp *http.Response, page *servertest.Page, sc realScenario) {
	t.Helper()
	body := html.UnescapeString(page.Body)
	name := "Corp " + sc.name
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Connect your "+name+" account ("+sc.account().Email+") to this account") ||
		!strings.Contains(body, `value="connect"`) || !strings.Contains(body, `value="skip"`) {
		t.Fatalf("after the password: %d, want the question to connect %s: %.800s", resp.StatusCode, name, page.Body)
	}
}

// decide posts the confirm page's form with decision.
func (h *realHarness) decide(t *testing.T, br *http.Client, page *servertest.Page, decision string) *http.Response {
	t.Helper()
	form := url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "decision": {decision}}
	if m := linkNextRE.FindStringSubmatch(page.Body); m != nil {
		form.Set("next", html.UnescapeString(m[1]))
	}
	resp, _ := h.a.PostForm(t, br, "/login/link", form)
	return resp
}

// toRP follows a's redirects from resp to the RP and redeems its code.
func (h *realHarness) toRP(t *testing.T, br *http.Client, resp *http.Response) fedTokens {
	t.Helper()
	loc := servertest.Location(t, resp)
	if strings.HasPrefix(loc.String(), h.a.URL+"/") {
		loc = h.a.Authorize(t, br, loc.String(), "", "")
	}
	if loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("RP redirect %s lacks code or state", loc)
	}
	return h.redeem(t, loc.Query().Get("code"))
}

// accountPage is a's account page in br.
func (h *realHarness) accountPage(t *testing.T, br *http.Client) *servertest.Page {
	t.Helper()
	resp, page := h.a.Get(t, br, "/account")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("account page: %d", resp.StatusCode)
	}
	return page
}

// linkCookieOf is the pending link's token br holds for env.
func linkCookieOf(t *testing.T, env *servertest.Env, br *http.Client) string {
	t.Helper()
	u, _ := url.Parse(env.URL)
	for _, c := range br.Jar.Cookies(u) {
		if c.Name == "idp_upstream_link" {
			return c.Value
		}
	}
	return ""
}

// pendingLinks counts the pending links of upstream id (expired or not).
func pendingLinks(t *testing.T, env *servertest.Env, id string) int64 {
	t.Helper()
	var n int64
	if err := env.DB.Gorm.Table("upstream_pending_links").Where("upstream_id = ?", id).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// auditsOf is env's audit events of action.
func auditsOf(t *testing.T, env *servertest.Env, action string) []audit.Event {
	t.Helper()
	events, err := env.Audit.List(context.Background(), time.Time{}, 1000)
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

// auditsFor is env's audit events of action about upstream id.
func auditsFor(t *testing.T, env *servertest.Env, action, id string) []audit.Event {
	t.Helper()
	return slices.DeleteFunc(auditsOf(t, env, action), func(e audit.Event) bool { return e.Detail != "upstream="+id })
}
