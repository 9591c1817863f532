package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"idp/admin"
	"idp/clients"
	"idp/oauth"
	"idp/server"
	"idp/server/servertest"
	"idp/upstreams"
)

// Refresh checks the upstream (issue #18, docs/federation.md): a refresh
// at a of tokens signed in through upstream b asks b again (its refresh
// token grant; GitHub's API), re-applies the upstream's rules and
// mapping, revokes the family when b says no, and leaves it alone when b
// cannot be asked. b sits behind a tamperProxy (upstream_mixup_test.go)
// that is its issuer, so a test can take b down or rewrite its answers.

// refreshFed is a fed whose upstream b is behind proxy and issues a
// refresh token to a (offline_access asked, the refresh_token grant
// allowed), and whose relying party asks a for offline_access.
type refreshFed struct {
	*fed
	proxy *tamperProxy
}

func newRefreshFed(t *testing.T, spec upstreams.Spec, interval time.Duration) *refreshFed {
	t.Helper()
	proxy := newTamperProxy(t)
	b := servertest.New(t, func(c *server.Config) { c.Issuer = proxy.URL })
	proxy.setTarget(t, b.URL)
	logs := &lockedBuffer{}
	a := servertest.New(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.UpstreamCheckInterval = interval
	})
	_, secret := b.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true,
		RedirectURIs: []string{a.URL + upstreams.CallbackPath("corp")}})
	spec.ID, spec.Name, spec.Issuer, spec.ClientID, spec.Secret = "corp", "Corp", proxy.URL, "idp-a", secret
	spec.Scopes = []string{"email", "profile", oauth.ScopeOfflineAccess}
	if _, err := a.App.Upstreams.Create(context.Background(), spec); err != nil {
		t.Fatalf("create upstream: %v", err)
	}
	viaProxy := *b
	viaProxy.URL = proxy.URL // the browser reaches b as its issuer says
	rp := newRPWithScopes(t, a, clients.Spec{ID: "rp", Trusted: true},
		[]string{oidc.ScopeOpenID, "email", "profile", oauth.ScopeOfflineAccess})
	return &refreshFed{fed: &fed{a: a, b: &viaProxy, rp: rp, br: a.Browser(t), log: logs}, proxy: proxy}
}

// toCallback is fed.toCallback for an upstream reached through the proxy.
func (f *refreshFed) toCallback(t *testing.T, email, password string) *url.URL {
	t.Helper()
	resp, _ := f.a.Get(t, f.br, f.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")))
	_, page := f.a.Get(t, f.br, servertest.Location(t, resp).String())
	m := upstreamButtonRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no Continue with Corp button: %.600s", page.Body)
	}
	resp, _ = f.a.Get(t, f.br, strings.ReplaceAll(m[1], "&amp;", "&"))
	up := servertest.Location(t, resp)
	if !strings.HasPrefix(up.String(), f.proxy.URL+"/") || !strings.Contains(up.Query().Get("scope"), oauth.ScopeOfflineAccess) {
		t.Fatalf("upstream authorization request %s does not ask b for offline_access", up)
	}
	if up.Query().Get("prompt") != "consent" { // OIDC Core §11
		t.Fatalf("upstream authorization request %s asks for offline_access without prompt=consent", up)
	}
	return f.b.Authorize(t, f.br, up.String(), email, password)
}

// signIn signs in through b and returns a's refresh token.
func (f *refreshFed) signIn(t *testing.T, email, password string) string {
	t.Helper()
	f.br = f.a.Browser(t)
	loc := f.a.Authorize(t, f.br, f.toCallback(t, email, password).String(), "", "")
	tok, err := f.rp.conf.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("a issued no refresh token for offline_access")
	}
	return tok.RefreshToken
}

// refresh runs the refresh_token grant at a as the relying party.
func refreshAtA(t *testing.T, f *fed, rt string) tokenResult {
	t.Helper()
	return postToken(t, f.a, tokenCall{form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
		basic: [2]string{f.rp.conf.ClientID, f.rp.conf.ClientSecret}})
}

// mustRefresh expects a refresh to pass and returns the new refresh token
// and the access token's roles.
func upRefresh(t *testing.T, f *fed, rt string) (string, []string) {
	t.Helper()
	res := refreshAtA(t, f, rt)
	if res.resp.StatusCode != http.StatusOK || res.str("refresh_token") == "" {
		t.Fatalf("refresh: %d %s\nlog:\n%s", res.resp.StatusCode, res.raw, f.log.String())
	}
	var at struct {
		Roles []string `json:"roles"`
	}
	decodeJWT(t, res.str("access_token"), &at)
	return res.str("refresh_token"), at.Roles
}

// refusedRefresh expects a refresh to fail with status and code.
func upRefused(t *testing.T, f *fed, rt string, status int, code string) {
	t.Helper()
	res := refreshAtA(t, f, rt)
	if res.resp.StatusCode != status || res.str("error") != code {
		t.Fatalf("refresh: %d %s, want %d %s", res.resp.StatusCode, res.raw, status, code)
	}
	// A 503 says when to come back; a refusal is final.
	if got, want := res.resp.Header.Get("Retry-After"), map[bool]string{true: "10"}[status == http.StatusServiceUnavailable]; got != want {
		t.Errorf("Retry-After %q, want %q", got, want)
	}
}

// revokedFamilies counts a's revoked refresh families.
func revokedFamilies(t *testing.T, env *servertest.Env) int64 {
	t.Helper()
	var n int64
	if err := env.DB.Gorm.Table("refresh_families").Where("revoked_at IS NOT NULL").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// audited counts a's audit events of action whose detail holds detail.
func audited(t *testing.T, env *servertest.Env, action, detail string) int {
	t.Helper()
	n := 0
	err := env.App.Admin.ExportAudit(context.Background(), admin.AuditQuery{}, func(e admin.Event) error {
		if e.Action == action && strings.Contains(e.Detail, detail) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// metricHas reports whether a's /metrics has line.
func metricHas(t *testing.T, env *servertest.Env, line string) bool {
	t.Helper()
	resp, page := env.Get(t, http.DefaultClient, env.URL+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return strings.Contains(page.Body, line)
}

// down makes the proxy answer 503 for b until the returned func is called.
func (p *tamperProxy) down() (up func()) {
	p.mu.Lock()
	saved := p.target
	p.target = nil
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.target = saved
		p.mu.Unlock()
	}
}

// linkGrant reads the sealed upstream grant of a's only link.
func linkGrant(t *testing.T, env *servertest.Env) []byte {
	t.Helper()
	var rows []struct{ TokenSealed []byte }
	if err := env.DB.Gorm.Table("upstream_links").Select("token_sealed").Scan(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("links: %v %d", err, len(rows))
	}
	return rows[0].TokenSealed
}

func TestUpstreamRefreshChecksUpstream(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	ctx := context.Background()
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)

	// What a keeps to ask b again is sealed: no readable token or JSON.
	sealed := linkGrant(t, f.a)
	if len(sealed) < 40 || bytes.Contains(sealed, []byte(`"rt"`)) || bytes.Contains(sealed, []byte("refresh")) {
		t.Fatalf("the link keeps %d bytes that do not look sealed: %q", len(sealed), sealed)
	}
	// While b agrees, a's refresh passes, each time asking b (interval 0),
	// whose rotated refresh token a keeps in place of the old one.
	asked := f.proxy.tamper(t, "/token", func(map[string]any) {})
	rt, _ = upRefresh(t, f.fed, rt)
	rt, _ = upRefresh(t, f.fed, rt)
	if asked() != 2 {
		t.Fatalf("a asked b's token endpoint %d times for 2 refreshes, want 2", asked())
	}
	if bytes.Equal(linkGrant(t, f.a), sealed) {
		t.Error("b rotated its refresh token, but a's sealed grant did not change")
	}

	// A second sign-in through the same upstream account: another family.
	rt2 := f.signIn(t, fedEmail, fedPassword)

	// b disables the person: a's next refresh is invalid_grant, and every
	// family of that upstream account is revoked (a later token of either
	// is refused too), audited, counted.
	if err := f.b.Users.Store().SetDisabled(ctx, up.ID, true); err != nil {
		t.Fatal(err)
	}
	upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant")
	if n := revokedFamilies(t, f.a); n != 2 {
		t.Errorf("%d revoked families at a, want both of the upstream account's", n)
	}
	if n := audited(t, f.a, "refresh.revoked", "reason=upstream upstream=corp"); n != 2 {
		t.Errorf("%d audits refresh.revoked reason=upstream, want 2", n)
	}
	upRefused(t, f.fed, rt2, http.StatusBadRequest, "invalid_grant")
	if !metricHas(t, f.a, `idp_upstream_failures_total{reason="refresh_refused",upstream="corp"} 1`) {
		t.Error("/metrics does not count the refused refresh")
	}
	if log := f.log.String(); !strings.Contains(log, "upstream refresh check failed") || !strings.Contains(log, "outcome=refresh_refused") {
		t.Errorf("log lacks the refused check:\n%s", log)
	}
	if err := f.b.Users.Store().SetDisabled(ctx, up.ID, false); err != nil {
		t.Fatal(err)
	}
	upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant") // revoked for good
}

// TestUpstreamRefreshGrantRevokedAtUpstream: the person (or an admin)
// revokes idp's grant at b; a's family goes with it, also when a's
// browser session ended long before.
func TestUpstreamRefreshGrantRevokedAtUpstream(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	ctx := context.Background()
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)
	rt, _ = upRefresh(t, f.fed, rt)
	// The browser session at a is long gone (expired and purged): the
	// family itself knows which upstream account to ask.
	user, err := f.a.Users.Store().ByEmail(ctx, fedEmail)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.a.Sessions.Store().DeleteUser(ctx, user.ID); err != nil || n != 1 {
		t.Fatalf("end a's session: %d, %v", n, err)
	}
	rt, _ = upRefresh(t, f.fed, rt)
	if err := f.b.Tokens.RevokeUserGrants(ctx, up.ID); err != nil {
		t.Fatalf("revoke at b: %v", err)
	}
	upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant")
	if n := revokedFamilies(t, f.a); n != 1 {
		t.Errorf("%d revoked families at a, want 1", n)
	}
}

// TestUpstreamRefreshUpstreamDown: b answering 503 says nothing about the
// person: a's refresh fails with 503 temporarily_unavailable, nothing is
// revoked, and the same refresh token works once b is back.
func TestUpstreamRefreshUpstreamDown(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)
	back := f.proxy.down()
	upRefused(t, f.fed, rt, http.StatusServiceUnavailable, "temporarily_unavailable")
	upRefused(t, f.fed, rt, http.StatusServiceUnavailable, "temporarily_unavailable")
	if n := revokedFamilies(t, f.a); n != 0 {
		t.Fatalf("%d families revoked while b was down", n)
	}
	if !metricHas(t, f.a, `idp_upstream_failures_total{reason="refresh_unavailable",upstream="corp"} 2`) {
		t.Error("/metrics does not count the unavailable checks")
	}
	if log := f.log.String(); !strings.Contains(log, "outcome=refresh_unavailable") {
		t.Errorf("log lacks the unavailable check:\n%s", log)
	}
	back()
	rt, _ = upRefresh(t, f.fed, rt)
	upRefresh(t, f.fed, rt)
}

// TestUpstreamRefreshRulesAndRoles re-applies the mapping at refresh: the
// roles come from b's (string) name claim, so renaming the person at b
// changes the roles of a's next access token, and a name outside the
// required group refuses the refresh.
func TestUpstreamRefreshRulesAndRoles(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true, Claims: upstreams.ClaimMapping{
		RolesClaim: "name", RolesPrefix: "idp-", RequiredGroup: "idp-staff"}}, 0)
	ctx := context.Background()
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	if _, err := f.b.Users.Update(ctx, up.ID, "idp-staff", nil); err != nil {
		t.Fatal(err)
	}
	rt := f.signIn(t, fedEmail, fedPassword)
	rt, roles := upRefresh(t, f.fed, rt)
	if !slices.Equal(roles, []string{"staff"}) {
		t.Fatalf("roles %v, want [staff]", roles)
	}
	// Still in the group, but with a second role from the claim.
	if _, err := f.a.App.Upstreams.Update(ctx, "corp", upstreams.Update{RequiredGroup: new(string)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Users.Update(ctx, up.ID, "idp-auditor", nil); err != nil {
		t.Fatal(err)
	}
	rt, roles = upRefresh(t, f.fed, rt)
	if !slices.Equal(roles, []string{"auditor"}) {
		t.Fatalf("roles after the change at b %v, want [auditor]", roles)
	}
	user, err := f.a.Users.Store().ByEmail(ctx, fedEmail)
	if err != nil || !slices.Equal(user.Roles, []string{"auditor"}) || user.Name != "idp-auditor" {
		t.Fatalf("user at a: %+v, %v", user, err)
	}
	// The group is required again, and the person is no longer in it.
	group := "idp-staff"
	if _, err := f.a.App.Upstreams.Update(ctx, "corp", upstreams.Update{RequiredGroup: &group}); err != nil {
		t.Fatal(err)
	}
	upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant")
	if n := revokedFamilies(t, f.a); n != 1 {
		t.Errorf("%d revoked families, want 1", n)
	}
	if log := f.log.String(); !strings.Contains(log, "not in group") {
		t.Errorf("log does not say the person left the group:\n%s", log)
	}
}

// TestUpstreamRefreshAllowedDomains: the person's address at b moves out
// of the allowed domains; the refresh is refused.
func TestUpstreamRefreshAllowedDomains(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true, AllowedDomains: []string{"corp.example"}}, 0)
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)
	rt, _ = upRefresh(t, f.fed, rt)
	if err := f.b.DB.Gorm.Table("users").Where("id = ?", up.ID).Update("email", "grace@elsewhere.example").Error; err != nil {
		t.Fatal(err)
	}
	upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant")
	if log := f.log.String(); !strings.Contains(log, "outside the allowed domains") {
		t.Errorf("log does not say why:\n%s", log)
	}
}

// TestUpstreamRefreshInterval: within --upstream-check-interval of the
// last yes (the sign-in, or a check) a refresh does not ask b; after it,
// it does, and then b's no ends the family.
func TestUpstreamRefreshInterval(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 10*time.Minute)
	ctx := context.Background()
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)
	asked := f.proxy.tamper(t, "/token", func(map[string]any) {})
	advance := func(d time.Duration) { f.a.Clock.Advance(d); f.b.Clock.Advance(d) }

	rt, _ = upRefresh(t, f.fed, rt)
	advance(9 * time.Minute)
	rt, _ = upRefresh(t, f.fed, rt)
	if asked() != 0 {
		t.Fatalf("b asked %d times within the interval after the sign-in", asked())
	}
	advance(2 * time.Minute)
	rt, _ = upRefresh(t, f.fed, rt)
	rt, _ = upRefresh(t, f.fed, rt)
	if asked() != 1 {
		t.Fatalf("b asked %d times, want 1 (once past the interval, then not again)", asked())
	}
	if err := f.b.Users.Store().SetDisabled(ctx, up.ID, true); err != nil {
		t.Fatal(err)
	}
	rt, _ = upRefresh(t, f.fed, rt) // the last yes is still fresh
	advance(11 * time.Minute)
	upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant")
}

// TestUpstreamRefreshForgedIDToken: the ID token of b's refresh response
// is verified as at sign-in (nonce aside, OIDC Core §12.2): one for
// another audience, or with a broken signature, is refused.
func TestUpstreamRefreshForgedIDToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forged func(t *testing.T, f *refreshFed) func(map[string]any)
	}{
		{"other audience", func(t *testing.T, f *refreshFed) func(map[string]any) {
			_, secret := f.b.CreateClient(t, clients.Spec{ID: "other-app", Trusted: true, RedirectURIs: []string{testRedirect}})
			other := idTokenAt(t, f.proxy.URL, "other-app", secret, testRedirect, "")
			return func(body map[string]any) { body["id_token"] = other }
		}},
		{"bad signature", func(*testing.T, *refreshFed) func(map[string]any) {
			return func(body map[string]any) {
				raw, _ := body["id_token"].(string)
				body["id_token"] = raw[:len(raw)-4] + flip(raw[len(raw)-4:])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
			f.b.CreateUser(t, fedEmail, fedPassword)
			rt := f.signIn(t, fedEmail, fedPassword)
			applied := f.proxy.tamper(t, "/token", tc.forged(t, f))
			upRefused(t, f.fed, rt, http.StatusBadRequest, "invalid_grant")
			if applied() != 1 {
				t.Fatalf("the proxy rewrote %d token responses, want 1", applied())
			}
			if log := f.log.String(); !strings.Contains(log, "refreshed ID token") {
				t.Errorf("log does not say the ID token failed:\n%s", log)
			}
		})
	}
}

// flip changes the characters of a base64url tail, keeping it base64url.
func flip(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
	}
	return string(out)
}

// TestUpstreamRefreshNoUpstreamToken: an upstream that issues no refresh
// token (offline_access not among its scopes) leaves nothing to ask with,
// so a's refreshes are not checked, as before checks existed.
func TestUpstreamRefreshNoUpstreamToken(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	ctx := context.Background()
	scopes := []string{"email", "profile"}
	if _, err := f.a.App.Upstreams.Update(ctx, "corp", upstreams.Update{Scopes: &scopes}); err != nil {
		t.Fatal(err)
	}
	f.b.CreateUser(t, fedEmail, fedPassword)
	resp, _ := f.a.Get(t, f.br, f.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")))
	_, page := f.a.Get(t, f.br, servertest.Location(t, resp).String())
	m := upstreamButtonRE.FindStringSubmatch(page.Body)
	resp, _ = f.a.Get(t, f.br, strings.ReplaceAll(m[1], "&amp;", "&"))
	loc := f.a.Authorize(t, f.br, f.b.Authorize(t, f.br, servertest.Location(t, resp).String(), fedEmail, fedPassword).String(), "", "")
	tok, err := f.rp.conf.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if g := linkGrant(t, f.a); g != nil {
		t.Fatalf("the link keeps a grant (%d bytes) though b gave no refresh token", len(g))
	}
	asked := f.proxy.tamper(t, "/token", func(map[string]any) {})
	back := f.proxy.down()
	defer back()
	upRefresh(t, f.fed, tok.RefreshToken)
	if asked() != 0 {
		t.Errorf("b asked %d times", asked())
	}
}

// GitHub: the check reads /user, /user/emails and the orgs and teams again
// with the kept access token.
func TestUpstreamRefreshGitHub(t *testing.T) {
	acct := ghUser()
	acct.Orgs, acct.Teams = []string{"acme"}, [][2]string{{"acme", "ops"}}
	f, gh := newGitHubFed(t, upstreams.Spec{JIT: true, Scopes: []string{"read:org"},
		Claims: upstreams.ClaimMapping{RolesClaim: "groups", RolesPrefix: "acme/", RequiredGroup: "acme"}}, acct)
	f.rp.conf.Scopes = append(f.rp.conf.Scopes, oauth.ScopeOfflineAccess)
	ctx := context.Background()
	loc := f.a.Authorize(t, f.br, toGitHub(t, f, gh).String(), "", "")
	tok, err := f.rp.conf.Exchange(ctx, loc.Query().Get("code"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
	}
	if g := linkGrant(t, f.a); len(g) == 0 || bytes.Contains(g, []byte("gho_")) {
		t.Fatalf("the GitHub access token is not kept sealed: %q", g)
	}
	rt, roles := upRefresh(t, f, tok.RefreshToken)
	if !slices.Equal(roles, []string{"ops"}) {
		t.Fatalf("roles %v, want [ops]", roles)
	}
	// A team changes at GitHub: the next access token's roles follow.
	gh.set(func(gh *fakeGitHub) { gh.account.Teams = [][2]string{{"acme", "dev"}, {"acme", "sec"}} })
	rt, roles = upRefresh(t, f, rt)
	if !slices.Equal(sorted(roles), []string{"dev", "sec"}) {
		t.Fatalf("roles after the team change %v, want [dev sec]", roles)
	}
	// GitHub failing (500) revokes nothing; back, it passes again.
	gh.set(func(gh *fakeGitHub) { gh.userFails = 1 })
	upRefused(t, f, rt, http.StatusServiceUnavailable, "temporarily_unavailable")
	gh.set(func(gh *fakeGitHub) { gh.userFails = 0 })
	rt, _ = upRefresh(t, f, rt)
	// Leaving the organisation (the required group) refuses.
	gh.set(func(gh *fakeGitHub) { gh.account.Orgs, gh.account.Teams = nil, nil })
	upRefused(t, f, rt, http.StatusBadRequest, "invalid_grant")
	if n := revokedFamilies(t, f.a); n != 1 {
		t.Errorf("%d revoked families, want 1", n)
	}
}

// TestUpstreamRefreshGitHubTokenRevoked: the person revokes the OAuth
// app at GitHub (its token answers 401 from then on): refused.
func TestUpstreamRefreshGitHubTokenRevoked(t *testing.T) {
	f, gh := newGitHubFed(t, upstreams.Spec{JIT: true}, ghUser())
	f.rp.conf.Scopes = append(f.rp.conf.Scopes, oauth.ScopeOfflineAccess)
	loc := f.a.Authorize(t, f.br, toGitHub(t, f, gh).String(), "", "")
	tok, err := f.rp.conf.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := upRefresh(t, f, tok.RefreshToken)
	gh.set(func(gh *fakeGitHub) { clear(gh.tokens) })
	upRefused(t, f, rt, http.StatusBadRequest, "invalid_grant")
	if !metricHas(t, f.a, `idp_upstream_failures_total{reason="refresh_refused",upstream="corp"} 1`) {
		t.Error("/metrics does not count the refused refresh")
	}
}

// oauth2Fake is a plain OAuth 2.0 provider whose access tokens expire in
// a minute and come with a refresh token (RFC 6749 §5.1, §6), and whose
// userinfo answers 401 to any other token. Its clock is a's.
type oauth2Fake struct {
	srv   *httptest.Server
	clock *servertest.Clock

	mu      sync.Mutex
	access  map[string]time.Time // access token → expiry
	refresh map[string]bool      // live refresh tokens
	renewed int                  // refresh_token grants answered
}

func newOAuth2Fake(t *testing.T, clock *servertest.Clock) *oauth2Fake {
	t.Helper()
	p := &oauth2Fake{clock: clock, access: map[string]time.Time{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"code": {"c0de"}, "state": {r.URL.Query().Get("state")}}
		http.Redirect(w, r, r.URL.Query().Get("redirect_uri")+"?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.PostForm.Get("grant_type") {
		case "refresh_token":
			if !p.refresh[r.PostForm.Get("refresh_token")] {
				w.WriteHeader(http.StatusBadRequest)
				writeJSON(w, map[string]string{"error": "invalid_grant"})
				return
			}
			p.renewed++
		case "authorization_code":
		default:
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "unsupported_grant_type"})
			return
		}
		at := "at_" + oauth.NewSecret(8)
		p.access[at] = p.clock.Now().Add(time.Minute)
		writeJSON(w, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 60,
			"refresh_token": "rt_" + p.newRefresh()})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		exp, ok := p.access[at]
		p.mu.Unlock()
		if !ok || !p.clock.Now().Before(exp) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		writeJSON(w, map[string]any{"sub": "77", "email": "ada@corp.example", "name": "Ada"})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// newRefresh mints a refresh token (under p.mu) and rotates out none: the
// fake's refresh tokens stay valid until revokeAll.
func (p *oauth2Fake) newRefresh() string {
	rt := oauth.NewSecret(8)
	p.refresh["rt_"+rt] = true
	return rt
}

func (p *oauth2Fake) revokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.refresh)
	clear(p.access)
}

// TestUpstreamRefreshOAuth2 checks a plain OAuth 2.0 upstream's userinfo
// again, renewing its expired access token first with the kept refresh
// token; once the provider refuses that, a's family ends.
func TestUpstreamRefreshOAuth2(t *testing.T) {
	logs := &lockedBuffer{}
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	p := newOAuth2Fake(t, a.Clock)
	spec := upstreams.Spec{ID: "corp", Name: "Corp OAuth", Kind: upstreams.KindOAuth2, ClientID: "idp", Secret: "s3cret", JIT: true,
		AuthURL: p.srv.URL + "/authorize", TokenURL: p.srv.URL + "/token", UserinfoURL: p.srv.URL + "/userinfo"}
	if _, err := a.App.Upstreams.Create(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	rp := newRPWithScopes(t, a, clients.Spec{ID: "rp", Trusted: true}, []string{oidc.ScopeOpenID, "email", oauth.ScopeOfflineAccess})
	f := &fed{a: a, rp: rp, br: a.Browser(t), log: logs}
	resp, _ := a.Get(t, f.br, rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")))
	_, page := a.Get(t, f.br, servertest.Location(t, resp).String())
	m := upstreamButtonRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no upstream button: %.600s", page.Body)
	}
	resp, _ = a.Get(t, f.br, strings.ReplaceAll(m[1], "&amp;", "&"))
	resp, _ = a.Get(t, f.br, servertest.Location(t, resp).String()) // the fake's authorize
	loc := a.Authorize(t, f.br, servertest.Location(t, resp).String(), "", "")
	tok, err := rp.conf.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := upRefresh(t, f, tok.RefreshToken)
	a.Clock.Advance(2 * time.Minute) // the kept access token has expired
	rt, _ = upRefresh(t, f, rt)
	p.mu.Lock()
	renewed := p.renewed
	p.mu.Unlock()
	if renewed != 1 {
		t.Fatalf("the provider renewed %d access tokens, want 1", renewed)
	}
	rt, _ = upRefresh(t, f, rt) // the renewed token is kept and still fresh
	p.revokeAll()
	upRefused(t, f, rt, http.StatusBadRequest, "invalid_grant")
	if n := revokedFamilies(t, a); n != 1 {
		t.Errorf("%d revoked families, want 1", n)
	}
}

// TestUpstreamRefreshRace: refreshes racing with one token still mint
// exactly one child (every racer gets it), the upstream check included.
func TestUpstreamRefreshRace(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)
	const n = 4
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			req, _ := http.NewRequest(http.MethodPost, f.a.URL+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(f.rp.conf.ClientID, f.rp.conf.ClientSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			var body struct {
				RefreshToken string `json:"refresh_token"`
				Error        string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			got[i] = fmt.Sprintf("%d %s%s", resp.StatusCode, body.RefreshToken, body.Error)
		})
	}
	wg.Wait()
	for i := range got {
		if !strings.HasPrefix(got[i], "200 ") || got[i] != got[0] {
			t.Fatalf("racing refreshes answered %q, want one and the same new token", got)
		}
	}
	if n := revokedFamilies(t, f.a); n != 0 {
		t.Errorf("%d families revoked by the race", n)
	}
}

// TestUpstreamGivesBackGrants: idp gives an upstream refresh token it no
// longer holds back to the upstream (RFC 7009): the one a newer sign-in
// replaced, and that of a link its owner removed. Until then it would
// stay live at the upstream for nobody's use.
func TestUpstreamGivesBackGrants(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	ctx := context.Background()
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	rt := f.signIn(t, fedEmail, fedPassword)
	f.a.App.Upstreams.Wait()
	if n := revokedFamilies(t, f.b); n != 0 {
		t.Fatalf("%d families revoked at b after the first sign-in", n)
	}
	f.signIn(t, fedEmail, fedPassword)
	f.a.App.Upstreams.Wait()
	if n := revokedFamilies(t, f.b); n != 1 {
		t.Fatalf("%d families revoked at b after a sign-in replaced a's grant, want the replaced one", n)
	}
	// The grant a kept still answers for every family at a.
	if rt, _ = upRefresh(t, f.fed, rt); rt == "" {
		t.Fatal("no refresh token")
	}

	user, err := f.a.Users.Store().ByEmail(ctx, fedEmail)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.App.Upstreams.Unlink(ctx, user.ID, "corp", up.ID, true); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	f.a.App.Upstreams.Wait()
	if n := revokedFamilies(t, f.b); n != 2 {
		t.Fatalf("%d families revoked at b after the unlink, want both", n)
	}
	if strings.Contains(f.log.String(), "upstream token not revoked") {
		t.Errorf("a logged a failed revocation:\n%s", f.log.String())
	}
}
