package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/oauth"
	"idp/server/servertest"
)

// deviceEnv is a provider with a user and a device client, as an
// operator would set them up for a TV app.
type deviceEnv struct {
	env            *servertest.Env
	clientID       string
	secret         string
	provider       *oidc.Provider
	user, password string
}

func newDeviceEnv(t *testing.T, spec clients.Spec) *deviceEnv {
	t.Helper()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword, "staff")
	if spec.ID == "" {
		spec.ID, spec.Name, spec.Public = "tv-app", "Living Room TV", true
	}
	if spec.GrantTypes == nil {
		spec.GrantTypes = []string{oauth.GrantDeviceCode, clients.GrantRefreshToken}
	}
	c, secret := env.CreateClient(t, spec)
	provider, err := oidc.NewProvider(context.Background(), env.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &deviceEnv{env: env, clientID: c.ID, secret: secret, provider: provider, user: testEmail, password: testPassword}
}

// start asks for codes with x/oauth2 (device_authorization_endpoint
// from go-oidc's discovery), as a real device app would.
func (d *deviceEnv) start(t *testing.T, scopes ...string) *oauth2.DeviceAuthResponse {
	t.Helper()
	conf := oauth2.Config{ClientID: d.clientID, ClientSecret: d.secret, Endpoint: d.provider.Endpoint(), Scopes: scopes}
	if conf.Endpoint.DeviceAuthURL != d.env.URL+"/device_authorization" {
		t.Fatalf("discovery names device_authorization_endpoint %q", conf.Endpoint.DeviceAuthURL)
	}
	da, err := conf.DeviceAuth(context.Background())
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if len(da.UserCode) != 9 || da.UserCode[4] != '-' || strings.Trim(strings.ReplaceAll(da.UserCode, "-", ""), "BCDFGHJKLMNPQRSTVWXZ") != "" {
		t.Fatalf("user code %q is not XXXX-XXXX of the alphabet", da.UserCode)
	}
	if da.VerificationURI != d.env.URL+"/device" || da.VerificationURIComplete != d.env.URL+"/device?user_code="+da.UserCode {
		t.Fatalf("verification URIs %q %q", da.VerificationURI, da.VerificationURIComplete)
	}
	if da.Interval != 5 || time.Until(da.Expiry) < 9*time.Minute {
		t.Fatalf("interval %d, expiry %v", da.Interval, da.Expiry)
	}
	return da
}

// poll is one token request with the device code; it returns the status
// and the JSON body.
func (d *deviceEnv) poll(t *testing.T, deviceCode string) (int, map[string]any) {
	t.Helper()
	return d.pollAs(t, d.clientID, d.secret, deviceCode)
}

func (d *deviceEnv) pollAs(t *testing.T, clientID, secret, deviceCode string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {clientID}}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	resp, err := http.PostForm(d.env.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, body
}

func wantPollError(t *testing.T, step string, status int, body map[string]any, code string) {
	t.Helper()
	if status != http.StatusBadRequest && !(code == "access_denied" && status == http.StatusForbidden) || body["error"] != code {
		t.Fatalf("%s: %d %v, want %s", step, status, body, code)
	}
}

// signIn follows /device?user_code=… to the sign-in page, signs in there
// and comes back to /device, returning the code form.
func (d *deviceEnv) signIn(t *testing.T, b *http.Client, verificationURI string) *servertest.Page {
	t.Helper()
	env := d.env
	resp, _ := env.Get(t, b, verificationURI)
	loc := servertest.Location(t, resp)
	if loc.Path != "/login" || loc.Query().Get("next") == "" {
		t.Fatalf("signed-out /device went to %s, want the sign-in page with next", loc)
	}
	_, page := env.Get(t, b, loc.String())
	if !strings.Contains(page.Body, `name="next"`) {
		t.Fatalf("the sign-in form does not carry next")
	}
	resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "next": {loc.Query().Get("next")},
		"email": {d.user}, "password": {d.password}})
	back := servertest.Location(t, resp)
	if back.Path != "/device" {
		t.Fatalf("after sign-in went to %s, want /device", back)
	}
	resp, page = env.Get(t, b, back.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/device after sign-in: %d", resp.StatusCode)
	}
	return page
}

// answer enters userCode on the form page and approves or denies, and
// returns the outcome page.
func (d *deviceEnv) answer(t *testing.T, b *http.Client, form *servertest.Page, userCode, decision string) *servertest.Page {
	t.Helper()
	resp, confirm := d.env.PostForm(t, b, "/device", url.Values{"csrf_token": {form.CSRF()}, "user_code": {userCode}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, `action="/device/decide"`) {
		t.Fatalf("entering the code: %d %.600s", resp.StatusCode, confirm.Body)
	}
	if !strings.Contains(confirm.Body, "Living Room TV wants to access your account") {
		t.Fatalf("the confirmation does not name the client: %.800s", confirm.Body)
	}
	resp, out := d.env.PostForm(t, b, "/device/decide", url.Values{"csrf_token": {confirm.CSRF()},
		"user_code": {userCode}, "decision": {decision}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deciding: %d %.600s", resp.StatusCode, out.Body)
	}
	return out
}

// TestDeviceFlowEndToEnd: a device asks for codes, polls while a person
// signs in on another browser and approves; the next poll gets an ID
// token (verified with go-oidc), an access token and a refresh token,
// once.
func TestDeviceFlowEndToEnd(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid", "email", "offline_access")

	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "before the user answers", status, body, "authorization_pending")

	b := d.env.Browser(t)
	form := d.signIn(t, b, da.VerificationURIComplete)
	if !strings.Contains(form.Body, `value="`+da.UserCode+`"`) {
		t.Fatalf("the code form is not prefilled with %s", da.UserCode)
	}
	d.env.Clock.Advance(5 * time.Second)
	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "while the user signs in", status, body, "authorization_pending")

	out := d.answer(t, b, form, strings.ToLower(strings.ReplaceAll(da.UserCode, "-", "")), "approve")
	if !strings.Contains(out.Body, "Approved — you may close this window") {
		t.Fatalf("outcome page: %.600s", out.Body)
	}

	d.env.Clock.Advance(5 * time.Second)
	status, body = d.poll(t, da.DeviceCode)
	if status != http.StatusOK {
		t.Fatalf("poll after approval: %d %v", status, body)
	}
	raw, _ := body["id_token"].(string)
	idt, err := d.provider.Verifier(&oidc.Config{ClientID: d.clientID, Now: d.env.Clock.Now}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		Email string   `json:"email"`
		AMR   []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != testEmail {
		t.Fatalf("ID token claims %+v %v", claims, err)
	}
	if err := idt.VerifyAccessToken(body["access_token"].(string)); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	at, err := d.env.Tokens.VerifyAccessToken(context.Background(), body["access_token"].(string))
	if err != nil || at.Subject != idt.Subject || at.ClientID != d.clientID || at.Scope != "openid email offline_access" {
		t.Fatalf("access token %+v %v", at, err)
	}
	if body["refresh_token"] == nil || body["token_type"] != "Bearer" {
		t.Fatalf("token response %v lacks a refresh token", body)
	}

	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "replayed device code", status, body, "invalid_grant")

	events, err := d.env.Audit.List(context.Background(), time.Time{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "device.") {
			seen = append(seen, e.Action)
		}
	}
	if got := strings.Join(seen, ","); got != "device.token_issued,device.approved" {
		t.Fatalf("audit device events %q", got)
	}
}

func TestDeviceDenied(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid")
	b := d.env.Browser(t)
	out := d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "deny")
	if !strings.Contains(out.Body, "<h1>Denied</h1>") {
		t.Fatalf("outcome page: %.600s", out.Body)
	}
	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "after denial", status, body, "access_denied")
}

func TestDeviceExpired(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid")
	b := d.env.Browser(t)
	form := d.signIn(t, b, da.VerificationURI)
	d.env.Clock.Advance(10 * time.Minute)
	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "after expiry", status, body, "expired_token")
	resp, page := d.env.PostForm(t, b, "/device", url.Values{"csrf_token": {form.CSRF()}, "user_code": {da.UserCode}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, "That code is not valid") {
		t.Fatalf("an expired code on /device: %d %.400s", resp.StatusCode, page.Body)
	}
}

// TestDeviceSlowDown: a poll sooner than the interval is slow_down and
// adds 5 s for every later poll, which the next too-early poll shows.
func TestDeviceSlowDown(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid")
	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "first poll", status, body, "authorization_pending")
	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "at once", status, body, "slow_down")
	d.env.Clock.Advance(5 * time.Second) // enough before, not since the interval went to 10 s
	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "5 s later", status, body, "slow_down")
	d.env.Clock.Advance(15 * time.Second) // the interval is now 15 s
	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "15 s later", status, body, "authorization_pending")
}

// TestDeviceConcurrentPolls: 20 polls race after approval; one gets the
// tokens, the others invalid_grant.
func TestDeviceConcurrentPolls(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid", "offline_access")
	b := d.env.Browser(t)
	d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "approve")
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := d.poll(t, da.DeviceCode)
			mu.Lock()
			defer mu.Unlock()
			if status == http.StatusOK && body["access_token"] != nil {
				results["ok"]++
				return
			}
			e, _ := body["error"].(string)
			results[e]++
		}()
	}
	wg.Wait()
	if results["ok"] != 1 || results["invalid_grant"] != 19 {
		t.Fatalf("results %v; want 1 ok and 19 invalid_grant", results)
	}
}
