package server_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
	"idp/upstreams"
	"idp/verifier"
)

// Federation against two real upstream providers, each its own process
// (issue #18, "Tests that must exist"): panva's oidc-provider from npm
// (interop/oidc-upstream/upstream.mjs), a certified provider nobody here
// wrote, and a second idp built and run as `idp serve`, set up with its own
// CLI. The provider under test, a, runs in-process (servertest), so its
// database is SQLite or PostgreSQL as the run chooses; the upstreams keep
// their own storage.
//
// One upstream process serves every scenario of a test function: each
// scenario is its own upstream registration at a (its id is the
// scenario's name, so its callback path differs) with its own rules, and
// its own account at the upstream, so scenarios cannot see each other's
// users or links. A new scenario is one more row in realScenarios.

// upstreamAccount is a person with an account at the upstream.
type upstreamAccount struct {
	Login, Email, Name string
	// Verified: the upstream vouches for the email (email_verified).
	Verified bool
}

// groupRule is how an upstream's accounts are in groups: the claim that
// lists them, a value every account has, one no account has, and the
// roles a mapping of Claim with Prefix gives every account.
type groupRule struct {
	Claim, Member, NonMember, Prefix string
	Roles                            []string
}

// realUpstream is a running upstream provider.
type realUpstream struct {
	issuer, clientID, secret string
	// scopes idp asks the upstream for, besides openid.
	scopes []string
	// subs is the upstream's sub of each account, by Login.
	subs map[string]string
	// signIn drives the upstream's own pages from its authorization
	// request authURL as acct, and returns where the upstream sends the
	// browser back (a's callback), not followed.
	signIn func(t *testing.T, br *http.Client, authURL string, acct upstreamAccount) *url.URL
	groups groupRule
	// revokeSigningKey, when the upstream can, revokes the key that signs
	// idp's ID tokens there, waits until the upstream publishes and signs
	// with its fresh replacement, and returns both kids.
	revokeSigningKey func(t *testing.T) (old, fresh string)
	// refresh, when the upstream issues idp refresh tokens for
	// offline_access, is how a test acts there (upstream_real_refresh_test.go).
	refresh *upstreamRefresh
}

// startUpstream starts an upstream with a confidential client for a
// whose redirect URIs are given, and the accounts.
type startUpstream func(t *testing.T, redirectURIs []string, accounts []upstreamAccount) *realUpstream

// realScenario is one sign-in story told against every real upstream.
type realScenario struct {
	// name is the upstream's id at a and the local part of the account's
	// email (name@corp.example).
	name string
	// verified: the upstream says the account's email is verified.
	verified bool
	spec     func(g groupRule) upstreams.Spec
	run      func(t *testing.T, h *realHarness, sc realScenario)
}

func (sc realScenario) account() upstreamAccount {
	return upstreamAccount{Login: sc.name, Email: sc.name + "@corp.example", Name: "Person " + sc.name, Verified: sc.verified}
}

var realScenarios = []realScenario{
	{name: "jit", verified: true, spec: func(groupRule) upstreams.Spec { return upstreams.Spec{JIT: true} }, run: realJIT},
	{name: "link", verified: true, spec: func(groupRule) upstreams.Spec { return upstreams.Spec{LinkByEmail: true} }, run: realLinkByEmail},
	{name: "link-unverified", spec: func(groupRule) upstreams.Spec { return upstreams.Spec{LinkByEmail: true, JIT: true} }, run: realLinkUnverified},
	{name: "domain", verified: true, spec: func(groupRule) upstreams.Spec {
		return upstreams.Spec{JIT: true, AllowedDomains: []string{"other.example"}}
	}, run: realRefusedOutsider},
	{name: "group", verified: true, spec: func(g groupRule) upstreams.Spec {
		return upstreams.Spec{JIT: true, Claims: upstreams.ClaimMapping{RolesClaim: g.Claim, RequiredGroup: g.NonMember}}
	}, run: realRefusedOutsider},
	{name: "iss-stripped", verified: true, spec: func(groupRule) upstreams.Spec { return upstreams.Spec{JIT: true} }, run: realISSStripped},
	{name: "roles", verified: true, spec: func(g groupRule) upstreams.Spec {
		return upstreams.Spec{JIT: true, Claims: upstreams.ClaimMapping{RolesClaim: g.Claim, RolesPrefix: g.Prefix, RequiredGroup: g.Member}}
	}, run: realRoles},
	// Confirm-to-link (no --link-by-email; or with it, but unverified)
	// and unlink: upstream_real_link_test.go.
	{name: "confirm-link", verified: true, spec: func(groupRule) upstreams.Spec { return upstreams.Spec{} }, run: realConfirmLink},
	{name: "confirm-skip", spec: func(groupRule) upstreams.Spec { return upstreams.Spec{LinkByEmail: true} }, run: realConfirmSkip},
	{name: "unlink", verified: true, spec: func(groupRule) upstreams.Spec { return upstreams.Spec{JIT: true} }, run: realUnlink},
	// Refresh checks the upstream: upstream_real_refresh_test.go.
	{name: "refresh-revoked", verified: true, spec: offlineSpec, run: realRefreshRevoked},
	{name: "refresh-disabled", verified: true, spec: offlineSpec, run: realRefreshDisabled},
	// Kept last: it moves a's clock 11 s ahead of the wall clock (and
	// syncClock never moves it back). Rows after it would still pass, as
	// upstream iats in a's past are fine, but the others run on real time.
	{name: "key-revoked", verified: true, spec: func(groupRule) upstreams.Spec { return upstreams.Spec{JIT: true} }, run: realKeyRevoked},
}

// TestUpstreamRealOIDCProvider runs every scenario with panva's
// oidc-provider as the upstream.
func TestUpstreamRealOIDCProvider(t *testing.T) {
	runRealScenarios(t, startOIDCProvider)
}

// TestUpstreamRealIdpServe runs every scenario with a second idp, a
// separate `idp serve` process, as the upstream.
func TestUpstreamRealIdpServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the idp binary")
	}
	runRealScenarios(t, startIdpServe)
}

// realHarness is a, its relying party and the upstream of a test function.
type realHarness struct {
	a  *servertest.Env
	up *realUpstream
	// byID are other upstreams, by their id at a (the mix-up tests).
	byID map[string]*realUpstream
	rp   *rp
	log  *lockedBuffer // a's log
	// offline is a second relying party, asking a for offline_access.
	offline *rp
}

func runRealScenarios(t *testing.T, start startUpstream) {
	h := newRealHarness(t, start, realScenarios)
	for _, sc := range realScenarios {
		t.Run(sc.name, func(t *testing.T) {
			if _, err := h.a.App.Upstreams.Create(context.Background(), h.upstreamSpec(sc.name, sc.spec(h.up.groups))); err != nil {
				t.Fatalf("create upstream %s: %v", sc.name, err)
			}
			sc.run(t, h, sc)
		})
	}
}

// newRealHarness starts a, then the upstream with a's callback of every
// scenario registered and every scenario's account, and a trusted
// relying party at a.
func newRealHarness(t *testing.T, start startUpstream, scenarios []realScenario) *realHarness {
	t.Helper()
	logs := &lockedBuffer{}
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	var redirects []string
	var accounts []upstreamAccount
	for _, sc := range scenarios {
		redirects = append(redirects, a.URL+upstreams.CallbackPath(sc.name))
		accounts = append(accounts, sc.account())
	}
	return &realHarness{a: a, up: start(t, redirects, accounts), rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), log: logs}
}

// upstreamSpec registers h's upstream at a as id, with spec's rules.
func (h *realHarness) upstreamSpec(id string, spec upstreams.Spec) upstreams.Spec {
	spec.ID, spec.Name, spec.Issuer, spec.ClientID, spec.Secret = id, "Corp "+id, h.up.issuer, h.up.clientID, h.up.secret
	spec.Scopes = append(slices.Clone(h.up.scopes), spec.Scopes...) // the upstream's, and what the scenario adds
	return spec
}

// syncClock sets a's test clock to the wall clock. The upstreams stamp
// their ID tokens with the real time, and a checks iat against its own
// clock with 30 s of leeway; a clock frozen since a started would refuse
// them on a slow machine.
func (h *realHarness) syncClock() {
	if behind := time.Since(h.a.Clock.Now()); behind > 0 { // never back: a's clock only moves forward
		h.a.Clock.Advance(behind)
	}
}

// toCallback runs a fresh browser from the RP's authorization request
// through "Continue with Corp <id>" and the sign-in at the upstream as
// acct, and returns the browser and the URL the upstream sends it back to.
func (h *realHarness) toCallback(t *testing.T, id string, acct upstreamAccount) (*http.Client, *url.URL) {
	t.Helper()
	br, up := h.begin(t, id)
	return br, h.upstreamSignIn(t, br, id, up, acct)
}

// begin runs a fresh browser from the RP's authorization request through
// "Continue with Corp <id>" and returns the authorization request a sends
// it to at the upstream, not followed.
func (h *realHarness) begin(t *testing.T, id string) (*http.Client, *url.URL) {
	t.Helper()
	br, resp, page := h.press(t, id)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d %.300s", resp.StatusCode, page.Body)
	}
	up := servertest.Location(t, resp)
	if iss := h.upstream(id).issuer; !strings.HasPrefix(up.String(), iss+"/") {
		t.Fatalf("sent to %s, not to the upstream %s", up, iss)
	}
	return br, up
}

// press runs a fresh browser from the RP's authorization request to a's
// sign-in page and presses "Continue with Corp <id>"; it returns a's
// answer, not followed.
func (h *realHarness) press(t *testing.T, id string) (*http.Client, *http.Response, *servertest.Page) {
	t.Helper()
	h.syncClock()
	br := h.a.Browser(t)
	resp, _ := h.a.Get(t, br, h.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")))
	_, page := h.a.Get(t, br, servertest.Location(t, resp).String())
	m := regexp.MustCompile(`id="upstream-` + regexp.QuoteMeta(id) + `" href="([^"]*)"`).FindStringSubmatch(page.Body)
	if m == nil || !strings.Contains(page.Body, "Continue with Corp "+id) {
		t.Fatalf("no Continue with Corp %s button on %s: %.600s", id, page.URL, page.Body)
	}
	resp, page = h.a.Get(t, br, html.UnescapeString(m[1]))
	return br, resp, page
}

// upstreamSignIn signs in as acct at upstream id from a's authorization
// request there, and returns the redirect back to a's callback.
func (h *realHarness) upstreamSignIn(t *testing.T, br *http.Client, id string, authURL *url.URL, acct upstreamAccount) *url.URL {
	t.Helper()
	cb := h.upstream(id).signIn(t, br, authURL.String(), acct)
	if want := h.a.URL + upstreams.CallbackPath(id); cb.Scheme+"://"+cb.Host+cb.Path != want {
		t.Fatalf("upstream sent the browser to %s, want %s", cb, want)
	}
	return cb
}

// upstream is the provider behind a's upstream id.
func (h *realHarness) upstream(id string) *realUpstream {
	if up, ok := h.byID[id]; ok {
		return up
	}
	return h.up
}

// fedTokens is what the RP got from a after a sign-in: the verified ID
// token's claims and the access token's.
type fedTokens struct{ id, access map[string]any }

// finish follows the callback to the RP's redirect, redeems the code
// and verifies the ID token as the RP does.
func (h *realHarness) finish(t *testing.T, br *http.Client, cb *url.URL) fedTokens {
	t.Helper()
	loc := h.a.Authorize(t, br, cb.String(), "", "")
	if loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("RP redirect %s lacks code or state", loc)
	}
	return h.redeem(t, loc.Query().Get("code"))
}

// signIn is a whole sign-in through upstream id as acct, in a fresh browser.
func (h *realHarness) signIn(t *testing.T, id string, acct upstreamAccount) fedTokens {
	t.Helper()
	br, cb := h.toCallback(t, id, acct)
	return h.finish(t, br, cb)
}

// redeem exchanges code and verifies the ID token as the RP does.
func (h *realHarness) redeem(t *testing.T, code string) fedTokens {
	t.Helper()
	ctx := context.Background()
	tok, err := h.rp.conf.Exchange(ctx, code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := h.rp.provider.Verifier(&oidc.Config{ClientID: h.rp.conf.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	out := fedTokens{}
	if err := idt.Claims(&out.id); err != nil {
		t.Fatal(err)
	}
	if out.id["nonce"] != "rp-nonce" {
		t.Errorf("ID token nonce %v, want the RP's", out.id["nonce"])
	}
	decodeJWT(t, tok.AccessToken, &out.access)
	return out
}

// refused follows the callback and expects a page with status and words,
// one more audit signin.failure of upstream id with the reason, and the
// operator's log line.
func (h *realHarness) refused(t *testing.T, br *http.Client, cb *url.URL, id string, status int, words, reason string) {
	t.Helper()
	audits, lines := failureAudits(t, h.a, id, reason), logLines(h.log.String(), "upstream sign-in failed", "upstream="+id+" ")
	resp, page := h.a.Get(t, br, cb.String())
	if resp.StatusCode != status || !strings.Contains(html.UnescapeString(page.Body), words) {
		t.Fatalf("callback: %d, want %d with %q: %.800s", resp.StatusCode, status, words, page.Body)
	}
	if n := failureAudits(t, h.a, id, reason); n != audits+1 {
		t.Errorf("%d new audit signin.failure \"upstream=%s reason=%s\", want 1", n-audits, id, reason)
	}
	if n := logLines(h.log.String(), "upstream sign-in failed", "upstream="+id+" "); n != lines+1 {
		t.Errorf("%d new log lines on the failure of %s, want 1:\n%s", n-lines, id, h.log.String())
	}
}

// logLines counts the lines of log that hold all the words.
func logLines(log string, words ...string) int {
	n := 0
	for line := range strings.Lines(log) {
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(line, w) }) {
			n++
		}
	}
	return n
}

// failureAudits counts the audit signin.failure rows of upstream id
// with the reason.
func failureAudits(t *testing.T, env *servertest.Env, id, reason string) int {
	t.Helper()
	events, err := env.Audit.List(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want, n := "upstream="+id+" reason="+reason, 0
	for _, e := range events {
		if e.Action == "signin.failure" && e.Detail == want {
			n++
		}
	}
	return n
}

// rows counts a's users and upstream id's links.
func rows(t *testing.T, env *servertest.Env, id string) (usersN, links int64) {
	t.Helper()
	if err := env.DB.Gorm.Table("users").Count(&usersN).Error; err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Gorm.Table("upstream_links").Where("upstream_id = ?", id).Count(&links).Error; err != nil {
		t.Fatal(err)
	}
	return usersN, links
}

// linkedSub is the upstream sub upstream id's only link records.
func linkedSub(t *testing.T, env *servertest.Env, id string) (sub, userID string) {
	t.Helper()
	var l struct{ UpstreamSub, UserID string }
	if err := env.DB.Gorm.Table("upstream_links").Where("upstream_id = ?", id).Take(&l).Error; err != nil {
		t.Fatalf("link of %s: %v", id, err)
	}
	return l.UpstreamSub, l.UserID
}

// realJIT: the first sign-in creates an idp user; the RP sees idp's own
// sub (not the upstream's) and amr fed; the second uses the link.
func realJIT(t *testing.T, h *realHarness, sc realScenario) {
	acct := sc.account()
	usersBefore, _ := rows(t, h.a, sc.name)
	got := h.signIn(t, sc.name, acct)
	user, err := h.a.Users.Store().ByEmail(context.Background(), acct.Email)
	if err != nil {
		t.Fatalf("no user made: %v", err)
	}
	upSub, linkedUser := linkedSub(t, h.a, sc.name)
	if got.id["sub"] != user.ID || linkedUser != user.ID || upSub != h.up.subs[acct.Login] || user.ID == upSub {
		t.Errorf("sub %v, link %s→%s; want a's own user %s linked from the upstream's %s",
			got.id["sub"], upSub, linkedUser, user.ID, h.up.subs[acct.Login])
	}
	if !slices.Contains(amrOf(got.id), "fed") || got.id["email"] != acct.Email || got.id["name"] != acct.Name {
		t.Errorf("ID token amr %v email %v name %v", got.id["amr"], got.id["email"], got.id["name"])
	}
	if !user.EmailVerified {
		t.Error("the upstream vouched for the email, but the new user's is not verified")
	}
	// The second sign-in, in another browser, takes the link.
	again := h.signIn(t, sc.name, acct)
	if n, links := rows(t, h.a, sc.name); again.id["sub"] != user.ID || links != 1 || n != usersBefore+1 {
		t.Errorf("second sign-in: sub %v, %d users (%d before), %d links", again.id["sub"], n, usersBefore, links)
	}
}

// realLinkByEmail: an existing idp user with the email the upstream
// verified is linked, and gets the same sub as at a password sign-in.
func realLinkByEmail(t *testing.T, h *realHarness, sc realScenario) {
	acct := sc.account()
	local := h.a.CreateUser(t, acct.Email, "marble orchestra pinecone 7")
	h.syncClock()
	loc := h.a.Authorize(t, h.a.Browser(t), h.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")), acct.Email, "marble orchestra pinecone 7")
	byPassword := h.redeem(t, loc.Query().Get("code"))
	usersBefore, _ := rows(t, h.a, sc.name)

	got := h.signIn(t, sc.name, acct)
	if got.id["sub"] != local.ID || byPassword.id["sub"] != local.ID {
		t.Errorf("federated sub %v, password sub %v; want both %s", got.id["sub"], byPassword.id["sub"], local.ID)
	}
	if !slices.Contains(amrOf(got.id), "fed") || slices.Contains(amrOf(byPassword.id), "fed") {
		t.Errorf("amr federated %v, by password %v", got.id["amr"], byPassword.id["amr"])
	}
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 1 {
		t.Errorf("%d users (%d before), %d links; want the existing user linked", n, usersBefore, links)
	}
	if _, user := linkedSub(t, h.a, sc.name); user != local.ID {
		t.Errorf("linked to %s, want %s", user, local.ID)
	}
}

// realLinkUnverified: the same, but the upstream does not vouch for the
// email: refused even with --jit, nothing made or linked.
func realLinkUnverified(t *testing.T, h *realHarness, sc realScenario) {
	acct := sc.account()
	h.a.CreateUser(t, acct.Email, "marble orchestra pinecone 7")
	usersBefore, _ := rows(t, h.a, sc.name)
	br, cb := h.toCallback(t, sc.name, acct)
	h.refused(t, br, cb, sc.name, http.StatusConflict, "already exists", "link_refused")
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 0 {
		t.Errorf("%d users (%d before), %d links after a refusal", n, usersBefore, links)
	}
}

// realRefusedOutsider: an account outside the allowed domains, or not in
// the required group, is refused before anything is made or linked.
func realRefusedOutsider(t *testing.T, h *realHarness, sc realScenario) {
	acct := sc.account()
	usersBefore, _ := rows(t, h.a, sc.name)
	br, cb := h.toCallback(t, sc.name, acct)
	h.refused(t, br, cb, sc.name, http.StatusForbidden, "cannot sign in here", "not_allowed")
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 0 {
		t.Errorf("%d users (%d before), %d links after a refusal", n, usersBefore, links)
	}
	if _, err := h.a.Users.Store().ByEmail(context.Background(), acct.Email); err == nil {
		t.Error("a user was made for the refused account")
	}
}

// realISSStripped: both upstreams promise iss in their authorization
// responses (RFC 9207 §3), so a response without it is refused as
// forged, before its code is redeemed.
func realISSStripped(t *testing.T, h *realHarness, sc realScenario) {
	usersBefore, _ := rows(t, h.a, sc.name)
	br, cb := h.toCallback(t, sc.name, sc.account())
	q := cb.Query()
	if q.Get("iss") != h.up.issuer {
		t.Fatalf("the upstream sent iss %q, want %q", q.Get("iss"), h.up.issuer)
	}
	q.Del("iss")
	cb.RawQuery = q.Encode()
	h.refused(t, br, cb, sc.name, http.StatusBadRequest, "could not be completed", "forged")
	if n, links := rows(t, h.a, sc.name); n != usersBefore || links != 0 {
		t.Errorf("%d users (%d before), %d links after a refusal", n, usersBefore, links)
	}
}

// realRoles: the groups claim, filtered by the prefix, becomes the user's
// roles and the access token's.
func realRoles(t *testing.T, h *realHarness, sc realScenario) {
	got := h.signIn(t, sc.name, sc.account())
	user, err := h.a.Users.Store().ByEmail(context.Background(), sc.account().Email)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, r := range got.access["roles"].([]any) {
		roles = append(roles, r.(string))
	}
	want := h.up.groups.Roles
	if !slices.Equal(roles, want) || !slices.Equal(user.Roles, want) {
		t.Errorf("access token roles %v, user roles %v; want %v", roles, user.Roles, want)
	}
}

// realKeyRevoked: the upstream revokes the key that signed its ID tokens
// for idp and signs with a fresh one a has never seen; a meets the
// unknown kid, refetches the upstream's JWKS and signs the same person in
// (the "its own rotation handling").
func realKeyRevoked(t *testing.T, h *realHarness, sc realScenario) {
	if h.up.revokeSigningKey == nil {
		t.Skip("this upstream's signing key is fixed for the run (oidc-provider's comes from its configuration)")
	}
	first := h.signIn(t, sc.name, sc.account())
	cached := jwksKIDs(t, h.up.issuer) // the set a fetched for this upstream just now
	old, fresh := h.up.revokeSigningKey(t)
	if !slices.Contains(cached, old) || slices.Contains(cached, fresh) {
		t.Fatalf("revoked %s, signing with %s; a holds %v: the test would not exercise a refetch", old, fresh, cached)
	}
	// a refetches a JWKS at most every verifier.DefaultMinRefetchInterval
	// (by its clock), so forged kids cannot flood the upstream; let that
	// pass, as it would in any real outage.
	h.a.Clock.Advance(verifier.DefaultMinRefetchInterval + time.Second)
	again := h.signIn(t, sc.name, sc.account())
	if again.id["sub"] != first.id["sub"] {
		t.Errorf("after the upstream's key change: sub %v, want %v", again.id["sub"], first.id["sub"])
	}
}
