package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"idp/clients"
	"idp/oauth"
	"idp/upstreams"
)

// Refresh checks the upstream (docs/federation.md), against a real
// upstream: with offline_access among its scopes a keeps the upstream's
// refresh token, and each refresh at a (a's check interval is 0 here)
// runs the upstream's refresh_token grant; the upstream's no revokes a's
// families, and an upstream that cannot be reached revokes nothing.

// upstreamRefresh is how a test acts at an upstream that issues idp
// refresh tokens.
type upstreamRefresh struct {
	// grants is how many refresh_token grants the upstream has answered
	// with tokens.
	grants func(t *testing.T) int
	// revoke revokes, at the upstream's revocation endpoint (RFC 7009)
	// with idp's client credentials, every live refresh token of the
	// account login, and returns how many there were.
	revoke func(t *testing.T, login string) int
	// disable removes the account login at the upstream.
	disable func(t *testing.T, login string)
	// stop ends the upstream process; it no longer answers at all.
	stop func(t *testing.T)
}

// oidcProviderRefresh acts at upstream.mjs through its test-only routes
// and its real revocation endpoint.
func oidcProviderRefresh(issuer, clientID, secret string, cmd *exec.Cmd) *upstreamRefresh {
	state := func(t *testing.T, login string) (grants int, tokens []string) {
		t.Helper()
		resp, err := http.Get(issuer + "/test/state?sub=" + url.QueryEscape(login))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct {
			Grants int      `json:"refresh_grants"`
			Tokens []string `json:"refresh_tokens"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("upstream /test/state: %d %v", resp.StatusCode, err)
		}
		return st.Grants, st.Tokens
	}
	return &upstreamRefresh{
		grants: func(t *testing.T) int { n, _ := state(t, ""); return n },
		revoke: func(t *testing.T, login string) int {
			t.Helper()
			_, tokens := state(t, login)
			for _, tok := range tokens {
				form := url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}
				req, _ := http.NewRequest(http.MethodPost, issuer+"/token/revocation", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret)) // RFC 6749 §2.3.1
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("revocation endpoint: %d", resp.StatusCode)
				}
			}
			if _, left := state(t, login); len(left) != 0 {
				t.Fatalf("%d refresh tokens of %s still live after revocation", len(left), login)
			}
			return len(tokens)
		},
		disable: func(t *testing.T, login string) {
			t.Helper()
			resp, err := http.Post(issuer+"/test/disable?sub="+url.QueryEscape(login), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("upstream /test/disable: %d", resp.StatusCode)
			}
		},
		stop: func(t *testing.T) {
			t.Helper()
			_ = cmd.Process.Kill()
			host := strings.TrimPrefix(issuer, "http://")
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				c, err := net.DialTimeout("tcp", host, time.Second)
				if err != nil {
					return
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatalf("the upstream at %s still answers after it was killed", host)
				}
			}
		},
	}
}

// offlineSpec asks the upstream for offline_access besides its scopes.
func offlineSpec(groupRule) upstreams.Spec {
	return upstreams.Spec{JIT: true, Scopes: []string{oauth.ScopeOfflineAccess}}
}

// offlineSignIn signs in as sc's account through upstream sc.name for the
// relying party that asks a for offline_access, and returns the party as
// a fed and a's refresh token.
func (h *realHarness) offlineSignIn(t *testing.T, sc realScenario) (*fed, string) {
	t.Helper()
	if h.offline == nil {
		h.offline = newRPWithScopes(t, h.a, clients.Spec{ID: "rp-offline", Trusted: true},
			[]string{oidc.ScopeOpenID, "email", "profile", oauth.ScopeOfflineAccess})
	}
	saved := h.rp
	h.rp = h.offline
	defer func() { h.rp = saved }()
	br, up := h.begin(t, sc.name)
	if q := up.Query(); !strings.Contains(q.Get("scope"), oauth.ScopeOfflineAccess) || q.Get("prompt") != "consent" {
		t.Fatalf("upstream authorization request %s: want offline_access with prompt=consent (OIDC Core §11)", up)
	}
	cb := h.upstreamSignIn(t, br, sc.name, up, sc.account())
	loc := h.a.Authorize(t, br, cb.String(), "", "")
	tok, err := h.offline.conf.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("a issued no refresh token for offline_access")
	}
	if len(sealedGrant(t, h, sc.name)) == 0 {
		t.Fatal("a kept no upstream grant: the upstream issued no refresh token for offline_access")
	}
	return &fed{a: h.a, rp: h.offline, log: h.log}, tok.RefreshToken
}

// sealedGrant is the sealed upstream grant of upstream id's only link at a.
func sealedGrant(t *testing.T, h *realHarness, id string) []byte {
	t.Helper()
	var rows []struct{ TokenSealed []byte }
	if err := h.a.DB.Gorm.Table("upstream_links").Where("upstream_id = ?", id).Select("token_sealed").Scan(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("links of %s: %v %d", id, err, len(rows))
	}
	return rows[0].TokenSealed
}

// revokedFamiliesOf counts a's revoked refresh families of upstream id.
func revokedFamiliesOf(t *testing.T, h *realHarness, id string) int64 {
	t.Helper()
	var n int64
	if err := h.a.DB.Gorm.Table("refresh_families").Where("upstream_id = ? AND revoked_at IS NOT NULL", id).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// refreshChecked refreshes at a twice and expects both to pass, each
// asking the upstream (whose rotated refresh token a keeps: the upstream
// accepts each only once); it returns a's newest refresh token.
func (h *realHarness) refreshChecked(t *testing.T, f *fed, id, rt string) string {
	t.Helper()
	before, sealed := h.up.refresh.grants(t), sealedGrant(t, h, id)
	for range 2 {
		h.syncClock() // the refreshed ID token's iat is the upstream's real time
		rt, _ = upRefresh(t, f, rt)
	}
	if n := h.up.refresh.grants(t) - before; n != 2 {
		t.Fatalf("the upstream answered %d refresh_token grants for 2 refreshes at a, want 2", n)
	}
	if string(sealedGrant(t, h, id)) == string(sealed) {
		t.Error("the upstream rotated its refresh token, but a's sealed grant did not change")
	}
	return rt
}

// realRefreshRevoked: idp's grant at the upstream is revoked through the
// upstream's revocation endpoint (RFC 7009); a's next refresh is
// invalid_grant and both of the account's families at a are revoked.
func realRefreshRevoked(t *testing.T, h *realHarness, sc realScenario) {
	if h.up.refresh == nil || h.up.refresh.revoke == nil {
		t.Skip("a test cannot revoke idp's grant at this upstream (idp serve's CLI revokes no single grant); refresh-disabled tells its refusal")
	}
	f, rt := h.offlineSignIn(t, sc)
	rt = h.refreshChecked(t, f, sc.name, rt)
	_, rt2 := h.offlineSignIn(t, sc) // a second family of the same upstream account
	audits := audited(t, h.a, "refresh.revoked", "reason=upstream upstream="+sc.name)
	if n := h.up.refresh.revoke(t, sc.account().Login); n == 0 {
		t.Fatal("the upstream held no refresh token of the account to revoke")
	}
	h.syncClock()
	upRefused(t, f, rt, http.StatusBadRequest, "invalid_grant")
	if n := revokedFamiliesOf(t, h, sc.name); n != 2 {
		t.Errorf("%d revoked families of %s at a, want both of the upstream account's", n, sc.name)
	}
	if n := audited(t, h.a, "refresh.revoked", "reason=upstream upstream="+sc.name) - audits; n != 2 {
		t.Errorf("%d new audits refresh.revoked reason=upstream, want 2", n)
	}
	upRefused(t, f, rt2, http.StatusBadRequest, "invalid_grant")
}

// realRefreshDisabled: the account is removed at the upstream, whose
// refresh_token grant then refuses idp's refresh token (invalid_grant).
func realRefreshDisabled(t *testing.T, h *realHarness, sc realScenario) {
	if h.up.refresh == nil {
		t.Skip("this upstream issues idp no refresh tokens")
	}
	f, rt := h.offlineSignIn(t, sc)
	rt = h.refreshChecked(t, f, sc.name, rt)
	h.up.refresh.disable(t, sc.account().Login)
	before := h.up.refresh.grants(t)
	h.syncClock()
	upRefused(t, f, rt, http.StatusBadRequest, "invalid_grant")
	if n := h.up.refresh.grants(t); n != before {
		t.Errorf("the upstream answered %d refresh_token grants with tokens for a removed account", n-before)
	}
	if n := revokedFamiliesOf(t, h, sc.name); n != 1 {
		t.Errorf("%d revoked families of %s at a, want 1", n, sc.name)
	}
	if log := h.log.String(); logLines(log, "upstream refresh check failed", "outcome=refresh_refused", "upstream="+sc.name) == 0 {
		t.Errorf("log lacks the refused check of %s:\n%s", sc.name, log)
	}
}

// TestUpstreamRealOIDCProviderRefreshUnreachable: with its own
// oidc-provider process, stopped after the sign-in: a's refresh is 503
// temporarily_unavailable with Retry-After and nothing is revoked.
func TestUpstreamRealOIDCProviderRefreshUnreachable(t *testing.T) {
	sc := realScenario{name: "refresh-down", verified: true, spec: offlineSpec}
	h := newRealHarness(t, startOIDCProvider, []realScenario{sc})
	if _, err := h.a.App.Upstreams.Create(context.Background(), h.upstreamSpec(sc.name, sc.spec(h.up.groups))); err != nil {
		t.Fatal(err)
	}
	f, rt := h.offlineSignIn(t, sc)
	rt = h.refreshChecked(t, f, sc.name, rt)
	h.up.refresh.stop(t)
	h.syncClock()
	upRefused(t, f, rt, http.StatusServiceUnavailable, "temporarily_unavailable")
	upRefused(t, f, rt, http.StatusServiceUnavailable, "temporarily_unavailable")
	if n := revokedFamiliesOf(t, h, sc.name); n != 0 {
		t.Errorf("%d families revoked while the upstream was unreachable", n)
	}
}
