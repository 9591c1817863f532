package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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
	spec.Scopes = h.up.scopes
	return spec
}

// syncClock sets a's test clock to the wall clock. The upstreams stamp
// their ID tokens with the real time, and a checks iat against its own
// clock with 30 s of leeway; a clock frozen since a started would refuse
// them on a slow machine.
func (h *realHarness) syncClock() {
	h.a.Clock.Advance(time.Since(h.a.Clock.Now()))
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

// --- panva's oidc-provider ---

// startOIDCProvider runs interop/oidc-upstream/upstream.mjs. It needs
// node and `npm ci` in that folder; .ci/run provides both, so there a
// missing piece is a failure, elsewhere a skip.
func startOIDCProvider(t *testing.T, redirectURIs []string, accounts []upstreamAccount) *realUpstream {
	t.Helper()
	return startOIDCProviderWith(t, []map[string]any{{"client_id": "idp", "redirect_uris": redirectURIs}}, accounts)
}

// oidcProviderGroups are the groups of every account at oidc-provider;
// roles under "idp-" are for idp.
var oidcProviderGroups = []string{"idp-staff", "idp-admin", "corp-all"}

// startOIDCProviderWith registers clients (each gets a fresh secret if it
// has none) and the accounts; the first client is idp's.
func startOIDCProviderWith(t *testing.T, clientList []map[string]any, accounts []upstreamAccount) *realUpstream {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "interop", "oidc-upstream"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider"))
	if err != nil || modErr != nil {
		msg := "oidc-provider upstream skipped: needs node and `npm ci` in interop/oidc-upstream"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, c := range clientList {
		if c["client_secret"] == nil {
			c["client_secret"] = rand.Text() + rand.Text()
		}
	}
	table := map[string]any{}
	subs := map[string]string{}
	for _, a := range accounts {
		table[a.Login] = map[string]any{"email": a.Email, "email_verified": a.Verified, "name": a.Name, "groups": oidcProviderGroups}
		subs[a.Login] = a.Login // the login name is the account id, and so the sub
	}
	clientsJSON, _ := json.Marshal(clientList)
	accountsJSON, _ := json.Marshal(table)
	cmd := exec.Command(node, "upstream.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT=0", "CLIENTS="+string(clientsJSON), "ACCOUNTS="+string(accountsJSON))
	issuer := startReady(t, cmd, "oidc-provider ready ")
	return &realUpstream{issuer: issuer, clientID: clientList[0]["client_id"].(string), secret: clientList[0]["client_secret"].(string),
		scopes: []string{"email", "profile", "groups"}, subs: subs, signIn: oidcProviderSignIn(issuer),
		groups: groupRule{Claim: "groups", Member: "idp-staff", NonMember: "idp-board", Prefix: "idp-", Roles: []string{"staff", "admin"}}}
}

// startReady starts cmd and waits for the line with prefix on its
// stdout, returning the rest of that line; the process is killed when t
// ends. Its output is kept for the failure message.
func startReady(t *testing.T, cmd *exec.Cmd, prefix string) string {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("output of %s:\n%s", cmd.Args, out.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			_, _ = io.WriteString(out, line+"\n")
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				ready <- rest
			}
		}
		close(ready) // the process closed its stdout: it ended
	}()
	select {
	case rest, ok := <-ready:
		if !ok {
			t.Fatalf("%s ended before it was ready:\n%s", cmd.Args, out.String())
		}
		return strings.TrimSpace(rest)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s not ready after 60 s:\n%s", cmd.Args, out.String())
	}
	return ""
}

var (
	formRE  = regexp.MustCompile(`(?is)<form[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)\b(name|value)="([^"]*)"`)
)

// htmlForm is the first form of a page: where it posts, and its inputs
// with their values.
func htmlForm(t *testing.T, page string) (action string, fields url.Values) {
	t.Helper()
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on the page: %.800s", page)
	}
	fields = url.Values{}
	for _, in := range inputRE.FindAllString(m[2], -1) {
		var name, value string
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			if strings.EqualFold(a[1], "name") {
				name = html.UnescapeString(a[2])
			} else {
				value = html.UnescapeString(a[2])
			}
		}
		if name != "" {
			fields.Set(name, value)
		}
	}
	return html.UnescapeString(m[1]), fields
}

// oidcProviderSignIn drives oidc-provider's development pages: it
// follows the upstream's redirects, fills the login form (the login name
// is the account id; any password), submits the consent form as it is,
// and stops at the first redirect away from the upstream.
func oidcProviderSignIn(issuer string) func(*testing.T, *http.Client, string, upstreamAccount) *url.URL {
	return func(t *testing.T, br *http.Client, authURL string, acct upstreamAccount) *url.URL {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, authURL, nil)
		for range 10 {
			resp, err := br.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", req.Method, req.URL, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode >= 300 && resp.StatusCode < 400:
				loc := servertest.Location(t, resp)
				if !strings.HasPrefix(loc.String(), issuer+"/") {
					return loc
				}
				req, _ = http.NewRequest(http.MethodGet, loc.String(), nil)
			case resp.StatusCode == http.StatusOK:
				action, fields := htmlForm(t, string(body))
				if fields.Has("login") {
					fields.Set("login", acct.Login)
					fields.Set("password", "any password will do")
				}
				target, err := req.URL.Parse(action)
				if err != nil {
					t.Fatal(err)
				}
				req, _ = http.NewRequest(http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			default:
				t.Fatalf("oidc-provider answered %s %s with %d: %.600s", req.Method, req.URL, resp.StatusCode, body)
			}
		}
		t.Fatalf("oidc-provider: too many steps from %s", authURL)
		return nil
	}
}

// --- a second idp, as `idp serve` ---

// startIdpServe builds idp, sets up a SQLite database with its CLI (the
// accounts as users, a trusted confidential client for a) and runs
// `idp serve` on a free loopback port.
func startIdpServe(t *testing.T, redirectURIs []string, accounts []upstreamAccount) *realUpstream {
	t.Helper()
	dir := t.TempDir()
	bin := buildIdp(t, dir)
	addr := freeLoopbackAddr(t)
	issuer := "http://" + addr
	env := append(envWithoutIDP(), "IDP_DATABASE="+filepath.Join(dir, "upstream.db"),
		"IDP_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"), "IDP_ISSUER="+issuer)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("idp %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	cli("", "migrate")
	subs := map[string]string{}
	for _, a := range accounts {
		args := []string{"users", "create", "--email", a.Email, "--name", a.Name, "--password-stdin"}
		if a.Verified {
			args = append(args, "--email-verified")
		}
		subs[a.Login] = strings.TrimSpace(cli(fedPassword+"\n", args...)) // it prints the user id, idp's sub
	}
	secret := rand.Text() + rand.Text()
	args := []string{"clients", "create", "--id", "idp-a", "--name", "idp under test", "--trusted", "--secret-stdin"}
	for _, u := range redirectURIs {
		args = append(args, "--redirect-uri", u)
	}
	cli(secret+"\n", args...)

	cmd := exec.Command(bin, "serve", "--addr", addr)
	cmd.Env = env
	waitServing(t, cmd, issuer)
	// idp knows no groups scope: it refuses a request for it (invalid_scope).
	return &realUpstream{issuer: issuer, clientID: "idp-a", secret: secret, scopes: []string{"email", "profile"}, subs: subs,
		signIn: idpSignIn(issuer),
		// idp puts no groups in its ID tokens; its amr (["pwd"] after a
		// password sign-in) is the list claim to map.
		groups: groupRule{Claim: "amr", Member: "pwd", NonMember: "hwk", Roles: []string{"pwd"}}}
}

// idpSignIn signs in at an idp whose issuer is given, with the email and
// fedPassword. servertest's Authorize drives idp's sign-in and consent
// pages; it needs only the issuer, to tell idp's own redirects from the
// client's.
func idpSignIn(issuer string) func(*testing.T, *http.Client, string, upstreamAccount) *url.URL {
	return func(t *testing.T, br *http.Client, authURL string, acct upstreamAccount) *url.URL {
		t.Helper()
		return (&servertest.Env{URL: issuer}).Authorize(t, br, authURL, acct.Email, fedPassword)
	}
}

// buildIdp builds cmd/idp into dir.
func buildIdp(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "idp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/idp")
	cmd.Dir = ".." // the module root, from ./server
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/idp: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackAddr is a loopback address no one listens on now; idp
// serve needs its address before it starts, as its issuer carries it.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// envWithoutIDP is this process's environment without IDP_* settings
// (IDP_TEST_POSTGRES among them): the upstream has its own.
func envWithoutIDP() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDP_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitServing starts idp serve and waits until its /readyz answers 200
// (database reachable, keys loaded), failing at once if it exits.
func waitServing(t *testing.T, cmd *exec.Cmd, issuer string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start idp serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("idp serve output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("idp serve exited before it was ready (%v):\n%s", err, out.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("idp serve not ready after 60 s (%v):\n%s", err, out.String())
		}
	}
}
