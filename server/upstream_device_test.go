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
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/oauth"
	"idp/server/servertest"
	"idp/upstreams"
)

// The device authorization grant (RFC 8628) through an upstream (issue
// #18, docs/federation.md "Refresh checks the upstream"): the person
// approving a device at a signs in with "Continue with Corp" (b behind
// the tamper proxy of newRefreshFed), and the upstream account travels
// from the session through the device code to the refresh family, so a
// refresh of the device's tokens asks b again.

// upDeviceRow is what a keeps of a device request or a refresh family
// about who approved it.
type upDeviceRow struct {
	Status      string
	UserID      string
	UpstreamID  string
	UpstreamSub string
}

// newUpstreamDevice adds a device client ("Living Room TV", as
// deviceEnv.answer expects) to f's a; public, or confidential with secret.
func newUpstreamDevice(t *testing.T, f *refreshFed, public bool) *deviceEnv {
	t.Helper()
	c, secret := f.a.CreateClient(t, clients.Spec{ID: "tv-app", Name: "Living Room TV", Public: public,
		GrantTypes: []string{oauth.GrantDeviceCode, clients.GrantRefreshToken}})
	provider, err := oidc.NewProvider(context.Background(), f.a.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &deviceEnv{env: f.a, clientID: c.ID, secret: secret, provider: provider}
}

// deviceToUpstream opens the verification URI in a fresh browser at a, is sent
// to the sign-in page, presses "Continue with Corp" and signs in at b;
// it returns the browser and a's callback URL, not yet followed.
func (f *refreshFed) deviceToUpstream(t *testing.T, verificationURI, email, password string) (*http.Client, *url.URL) {
	t.Helper()
	br := f.a.Browser(t)
	resp, _ := f.a.Get(t, br, verificationURI)
	login := servertest.Location(t, resp)
	if login.Path != "/login" || !strings.HasPrefix(login.Query().Get("next"), "/device?user_code=") {
		t.Fatalf("signed-out /device went to %s, want the sign-in page with next", login)
	}
	_, page := f.a.Get(t, br, login.String())
	m := upstreamButtonRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no Continue with Corp button on the device sign-in: %.600s", page.Body)
	}
	button, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || button.Query().Get("next") != login.Query().Get("next") {
		t.Fatalf("the Corp button %q does not carry next %q", m[1], login.Query().Get("next"))
	}
	resp, _ = f.a.Get(t, br, button.String())
	up := servertest.Location(t, resp)
	if !strings.HasPrefix(up.String(), f.proxy.URL+"/") || !strings.Contains(up.Query().Get("scope"), oauth.ScopeOfflineAccess) ||
		up.Query().Get("prompt") != "consent" {
		t.Fatalf("upstream authorization request %s does not ask b for offline_access with prompt=consent", up)
	}
	return br, f.b.Authorize(t, br, up.String(), email, password)
}

// upDeviceCode reads a's only device_codes row.
func upDeviceCode(t *testing.T, f *refreshFed) upDeviceRow {
	t.Helper()
	var rows []upDeviceRow
	if err := f.a.DB.Gorm.Table("device_codes").Select("status", "user_id", "upstream_id", "upstream_sub").Scan(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("device codes: %v %d", err, len(rows))
	}
	return rows[0]
}

// startUpstreamDevice asks a for codes as d's client; a confidential one
// sends its secret in the form (client_secret_post), which x/oauth2's
// DeviceAuth does not do by itself.
func startUpstreamDevice(t *testing.T, d *deviceEnv, scopes ...string) *oauth2.DeviceAuthResponse {
	t.Helper()
	if d.secret == "" {
		return d.start(t, scopes...)
	}
	conf := oauth2.Config{ClientID: d.clientID, Endpoint: d.provider.Endpoint(), Scopes: scopes}
	da, err := conf.DeviceAuth(context.Background(), oauth2.SetAuthURLParam("client_secret", d.secret))
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.VerificationURIComplete != d.env.URL+"/device?user_code="+da.UserCode {
		t.Fatalf("verification_uri_complete %q", da.VerificationURIComplete)
	}
	return da
}

// refreshDevice runs the refresh_token grant at a as the device client.
func refreshDevice(t *testing.T, d *deviceEnv, rt string) tokenResult {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	call := tokenCall{form: form}
	if d.secret == "" {
		form.Set("client_id", d.clientID)
	} else {
		call.basic = [2]string{d.clientID, d.secret}
	}
	return postToken(t, d.env, call)
}

func TestUpstreamDeviceApproval(t *testing.T) {
	for _, public := range []bool{true, false} {
		t.Run(map[bool]string{true: "public", false: "confidential"}[public], func(t *testing.T) {
			testUpstreamDeviceApproval(t, public)
		})
	}
}

func testUpstreamDeviceApproval(t *testing.T, public bool) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true}, 0)
	ctx := context.Background()
	up := f.b.CreateUser(t, fedEmail, fedPassword)
	d := newUpstreamDevice(t, f, public)
	da := startUpstreamDevice(t, d, oidc.ScopeOpenID, "email", oauth.ScopeOfflineAccess)
	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "before the person answers", status, body, "authorization_pending")

	// Through b and back to the device page, the code prefilled.
	br, cb := f.deviceToUpstream(t, da.VerificationURIComplete, fedEmail, fedPassword)
	resp, _ := f.a.Get(t, br, cb.String())
	back := servertest.Location(t, resp)
	if back.Path != "/device" || back.Query().Get("user_code") != da.UserCode {
		t.Fatalf("the callback went to %s, want /device?user_code=%s", back, da.UserCode)
	}
	resp, form := f.a.Get(t, br, back.String())
	if resp.StatusCode != http.StatusOK || !strings.Contains(form.Body, `value="`+da.UserCode+`"`) {
		t.Fatalf("/device after the upstream sign-in: %d %.600s", resp.StatusCode, form.Body)
	}
	out := d.answer(t, br, form, da.UserCode, "approve")
	if !strings.Contains(out.Body, "Approved — you may close this window") {
		t.Fatalf("outcome page: %.600s", out.Body)
	}

	user, err := f.a.Users.Store().ByEmail(ctx, fedEmail)
	if err != nil {
		t.Fatalf("no JIT user at a: %v", err)
	}
	if user.ID == up.ID {
		t.Fatalf("a's user has b's id %s", up.ID)
	}
	// The approval keeps the upstream account of the session.
	if row := upDeviceCode(t, f); row.Status != "approved" || row.UserID != user.ID || row.UpstreamID != "corp" || row.UpstreamSub != up.ID {
		t.Fatalf("device code row %+v, want approved by %s through corp as %s", row, user.ID, up.ID)
	}

	f.a.Clock.Advance(5 * time.Second)
	f.b.Clock.Advance(5 * time.Second)
	status, body = d.poll(t, da.DeviceCode)
	if status != http.StatusOK {
		t.Fatalf("poll after approval: %d %v", status, body)
	}
	raw, _ := body["id_token"].(string)
	idt, err := d.provider.Verifier(&oidc.Config{ClientID: d.clientID, Now: f.a.Clock.Now}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != user.ID || !slices.Contains(claims.AMR, "fed") {
		t.Fatalf("ID token sub %q amr %v, want a's user %s with fed", idt.Subject, claims.AMR, user.ID)
	}
	rt, _ := body["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token for offline_access: %v", body)
	}
	var fams []upDeviceRow
	if err := f.a.DB.Gorm.Table("refresh_families").Select("user_id", "upstream_id", "upstream_sub").
		Where("client_id = ?", d.clientID).Scan(&fams).Error; err != nil || len(fams) != 1 {
		t.Fatalf("refresh families: %v %d", err, len(fams))
	}
	if fam := fams[0]; fam.UserID != user.ID || fam.UpstreamID != "corp" || fam.UpstreamSub != up.ID {
		t.Fatalf("refresh family %+v, want %s through corp as %s", fam, user.ID, up.ID)
	}

	// While b agrees, each refresh asks b (interval 0) and passes.
	asked := f.proxy.tamper(t, "/token", func(map[string]any) {})
	for i := range 2 {
		res := refreshDevice(t, d, rt)
		if res.resp.StatusCode != http.StatusOK || res.str("refresh_token") == "" {
			t.Fatalf("refresh %d: %d %s\nlog:\n%s", i, res.resp.StatusCode, res.raw, f.log.String())
		}
		rt = res.str("refresh_token")
	}
	if asked() != 2 {
		t.Fatalf("a asked b's token endpoint %d times for 2 refreshes, want 2", asked())
	}

	// b disables the person: the device's refresh is refused, its family
	// revoked and audited as the upstream's doing.
	if err := f.b.Users.Store().SetDisabled(ctx, up.ID, true); err != nil {
		t.Fatal(err)
	}
	if res := refreshDevice(t, d, rt); res.resp.StatusCode != http.StatusBadRequest || res.str("error") != "invalid_grant" {
		t.Fatalf("refresh after b disabled the person: %d %s", res.resp.StatusCode, res.raw)
	}
	if n := revokedFamilies(t, f.a); n != 1 {
		t.Errorf("%d revoked families at a, want the device's", n)
	}
	if n := audited(t, f.a, "refresh.revoked", "reason=upstream upstream=corp"); n != 1 {
		t.Errorf("%d audits refresh.revoked reason=upstream, want 1", n)
	}
	if err := f.b.Users.Store().SetDisabled(ctx, up.ID, false); err != nil {
		t.Fatal(err)
	}
	if res := refreshDevice(t, d, rt); res.str("error") != "invalid_grant" {
		t.Fatalf("refresh after b enabled the person again: %d %s, want invalid_grant (revoked for good)", res.resp.StatusCode, res.raw)
	}
}

// TestUpstreamDeviceRefusedSignIn: the upstream sign-in of the person
// about to approve is refused (their domain is not allowed). No session
// starts, so the device request is never answered: the device keeps
// getting authorization_pending (RFC 8628 §3.5) until the code expires
// (expired_token), and nothing is created, linked or approved.
func TestUpstreamDeviceRefusedSignIn(t *testing.T) {
	f := newRefreshFed(t, upstreams.Spec{JIT: true, AllowedDomains: []string{"elsewhere.example"}}, 0)
	ctx := context.Background()
	f.b.CreateUser(t, fedEmail, fedPassword)
	d := newUpstreamDevice(t, f, true)
	da := d.start(t, oidc.ScopeOpenID, oauth.ScopeOfflineAccess)

	br, cb := f.deviceToUpstream(t, da.VerificationURIComplete, fedEmail, fedPassword)
	resp, page := f.a.Get(t, br, cb.String())
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(html.UnescapeString(page.Body), "Your Corp account cannot sign in here") {
		t.Fatalf("callback: %d %.600s", resp.StatusCode, page.Body)
	}
	if n := audited(t, f.a, "signin.failure", "upstream=corp reason=not_allowed"); n != 1 {
		t.Errorf("%d audits signin.failure reason=not_allowed, want 1", n)
	}
	// The browser is still signed out: the device page sends it to sign
	// in, and so does approving the code from it.
	resp, _ = f.a.Get(t, br, da.VerificationURIComplete)
	login := servertest.Location(t, resp)
	if login.Path != "/login" {
		t.Fatalf("/device after the refused sign-in went to %s, want /login", login)
	}
	_, page = f.a.Get(t, br, login.String())
	resp, _ = f.a.PostForm(t, br, "/device/decide", url.Values{"csrf_token": {page.CSRF()},
		"user_code": {da.UserCode}, "decision": {"approve"}})
	if loc := servertest.Location(t, resp); resp.StatusCode != http.StatusSeeOther || loc.Path != "/login" {
		t.Fatalf("approving signed out: %d to %s, want 303 to /login", resp.StatusCode, loc)
	}

	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "after the refused sign-in", status, body, "authorization_pending")
	if row := upDeviceCode(t, f); row.Status != "pending" || row.UserID != "" || row.UpstreamID != "" || row.UpstreamSub != "" {
		t.Fatalf("device code row %+v after the refused sign-in, want pending and nobody's", row)
	}
	if _, err := f.a.Users.Store().ByEmail(ctx, fedEmail); err == nil {
		t.Error("the refused sign-in created a user at a")
	}
	for _, table := range []string{"upstream_links", "sessions", "refresh_families"} {
		var n int64
		if err := f.a.DB.Gorm.Table(table).Count(&n).Error; err != nil || n != 0 {
			t.Errorf("%s: %d rows (%v) after the refused sign-in, want none", table, n, err)
		}
	}
	f.a.Clock.Advance(10 * time.Minute)
	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "after expiry", status, body, "expired_token")
}
