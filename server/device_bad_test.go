package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"idp/clients"
	"idp/oauth"
	"idp/server"
	"idp/server/servertest"
)

// deviceRequest posts to the device authorization endpoint.
func deviceRequest(t *testing.T, base string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(base+"/device_authorization", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDeviceAuthorizationRequests: the endpoint authenticates clients as
// the token endpoint does and refuses what the client may not ask.
func TestDeviceAuthorizationRequests(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	conf, secret := d.env.CreateClient(t, clients.Spec{ID: "tv-conf", GrantTypes: []string{oauth.GrantDeviceCode}})
	web, _ := d.env.CreateClient(t, clients.Spec{ID: "web", Public: true, RedirectURIs: []string{testRedirect}})
	var meta struct {
		Endpoint string   `json:"device_authorization_endpoint"`
		Grants   []string `json:"grant_types_supported"`
	}
	if err := d.provider.Claims(&meta); err != nil || meta.Endpoint != d.env.URL+"/device_authorization" ||
		!slices.Contains(meta.Grants, oauth.GrantDeviceCode) {
		t.Fatalf("discovery %+v %v", meta, err)
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"public client", url.Values{"client_id": {d.clientID}, "scope": {"openid profile"}}, 200, `"user_code"`},
		{"confidential client", url.Values{"client_id": {conf.ID}, "client_secret": {secret}, "scope": {"openid"}}, 200, `"device_code"`},
		{"confidential without its secret", url.Values{"client_id": {conf.ID}}, 401, "invalid_client"},
		{"wrong secret", url.Values{"client_id": {conf.ID}, "client_secret": {strings.Repeat("x", 40)}}, 401, "invalid_client"},
		{"unknown client", url.Values{"client_id": {"nobody"}}, 401, "invalid_client"},
		{"client without the grant", url.Values{"client_id": {web.ID}, "scope": {"openid"}}, 400, "unauthorized_client"},
		{"scope not allowed", url.Values{"client_id": {d.clientID}, "scope": {"openid idp:admin"}}, 400, "invalid_scope"},
		{"bad scope", url.Values{"client_id": {d.clientID}, "scope": {`openid "x"`}}, 400, "invalid_scope"},
		{"repeated parameter", url.Values{"client_id": {d.clientID}, "scope": {"openid", "email"}}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := deviceRequest(t, d.env.URL, tc.form)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s; want %d with %s", status, body, tc.status, tc.want)
			}
		})
	}
}

// TestDevicePollRefusals: unknown codes and codes of another client are
// invalid_grant and leave the request as it was; a client without the
// grant may not poll at all.
func TestDevicePollRefusals(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	other, secret := d.env.CreateClient(t, clients.Spec{ID: "other-tv", GrantTypes: []string{oauth.GrantDeviceCode}})
	da := d.start(t, "openid")

	status, body := d.pollAs(t, other.ID, secret, da.DeviceCode)
	wantPollError(t, "another client's code", status, body, "invalid_grant")
	status, body = d.poll(t, "not-a-device-code")
	wantPollError(t, "unknown code", status, body, "invalid_grant")
	status, body = d.poll(t, "")
	wantPollError(t, "no code", status, body, "invalid_request")
	status, body = d.poll(t, da.DeviceCode)
	wantPollError(t, "the right client, still pending", status, body, "authorization_pending")

	web, _ := d.env.CreateClient(t, clients.Spec{ID: "web", Public: true, RedirectURIs: []string{testRedirect}})
	status, body = d.pollAs(t, web.ID, "", da.DeviceCode)
	if status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Fatalf("a client without the grant: %d %v", status, body)
	}
}

// TestDeviceUserCodeGuessesThrottled: wrong codes are counted per address;
// after the free ones the address waits, even with a right code, and
// may go on once the wait is over. Right codes are never counted.
func TestDeviceUserCodeGuessesThrottled(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid")
	b := d.env.Browser(t)
	form := d.signIn(t, b, d.env.URL+"/device")
	try := func(code string) (int, string) {
		resp, page := d.env.PostForm(t, b, "/device", url.Values{"csrf_token": {form.CSRF()}, "user_code": {code}})
		return resp.StatusCode, page.Body
	}
	for range 3 { // right codes are free
		if status, _ := try(da.UserCode); status != http.StatusOK {
			t.Fatalf("a right code: %d", status)
		}
	}
	for i := range 6 {
		if status, body := try("BBBB-BBBB"); status != http.StatusBadRequest || !strings.Contains(body, "That code is not valid") {
			t.Fatalf("wrong code %d: %d", i, status)
		}
	}
	status, body := try(da.UserCode)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("after 6 wrong codes: %d %.300s", status, body)
	}
	d.env.Clock.Advance(time.Second)
	if status, _ := try(da.UserCode); status != http.StatusOK {
		t.Fatalf("after the wait: %d", status)
	}
}

// TestDeviceFormsNeedCSRF: neither form is accepted without its CSRF
// token, and nothing is decided.
func TestDeviceFormsNeedCSRF(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid")
	b := d.env.Browser(t)
	d.signIn(t, b, da.VerificationURI)
	for _, path := range []string{"/device", "/device/decide"} {
		resp, page := d.env.PostForm(t, b, path, url.Values{"user_code": {da.UserCode}, "decision": {"approve"}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page.Body, "This form has expired") {
			t.Fatalf("%s without CSRF: %d", path, resp.StatusCode)
		}
	}
	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "after forms without CSRF", status, body, "authorization_pending")
}

// TestDeviceUserRules: a user disabled after approving gets the device
// nothing; a client that needs a second factor sends the user to step up
// and back; one that needs a verified address refuses an unverified one.
func TestDeviceUserRules(t *testing.T) {
	t.Run("disabled after approval", func(t *testing.T) {
		d := newDeviceEnv(t, clients.Spec{})
		da := d.start(t, "openid")
		b := d.env.Browser(t)
		d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "approve")
		if err := d.env.Users.Disable(context.Background(), testEmail); err != nil {
			t.Fatal(err)
		}
		status, body := d.poll(t, da.DeviceCode)
		wantPollError(t, "disabled user", status, body, "invalid_grant")
	})
	t.Run("second factor required", func(t *testing.T) {
		d := newDeviceEnv(t, clients.Spec{ID: "tv-app", Name: "Living Room TV", Public: true, RequireMFA: true})
		da := d.start(t, "openid")
		b := d.env.Browser(t)
		form := d.signIn(t, b, da.VerificationURI)
		resp, _ := d.env.PostForm(t, b, "/device", url.Values{"csrf_token": {form.CSRF()}, "user_code": {da.UserCode}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa?") ||
			!strings.Contains(loc, url.QueryEscape("/device?user_code="+da.UserCode)) {
			t.Fatalf("a client that needs MFA: %d to %q", resp.StatusCode, loc)
		}
	})
	t.Run("verified email required", func(t *testing.T) {
		d := newDeviceEnv(t, clients.Spec{ID: "tv-app", Name: "Living Room TV", Public: true, RequireVerifiedEmail: true})
		da := d.start(t, "openid")
		b := d.env.Browser(t)
		form := d.signIn(t, b, da.VerificationURI)
		resp, page := d.env.PostForm(t, b, "/device", url.Values{"csrf_token": {form.CSRF()}, "user_code": {da.UserCode}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page.Body, "Confirm your email address first") {
			t.Fatalf("unverified user: %d %.300s", resp.StatusCode, page.Body)
		}
		// Refusing needs nothing of the user.
		resp, page = d.env.PostForm(t, b, "/device/decide", url.Values{"csrf_token": {form.CSRF()},
			"user_code": {da.UserCode}, "decision": {"deny"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "<h1>Denied</h1>") {
			t.Fatalf("unverified user denying: %d %.300s", resp.StatusCode, page.Body)
		}
		status, body := d.poll(t, da.DeviceCode)
		wantPollError(t, "denied by an unverified user", status, body, "access_denied")
	})
}

// TestDeviceNextStaysOnSite: the sign-in page returns only to idp's own
// device page, never to a URL the link names.
func TestDeviceNextStaysOnSite(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{})
	for _, next := range []string{"https://evil.example/", "//evil.example", "/device?user_code=x&next=//evil", "/device?user_code=AAAA-AAAA"} {
		b := d.env.Browser(t)
		_, page := d.env.Get(t, b, "/login?next="+url.QueryEscape(next))
		resp, _ := d.env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "next": {next},
			"email": {testEmail}, "password": {testPassword}})
		if loc := locationOf(resp); loc != "/account" {
			t.Fatalf("next %q led to %q", next, loc)
		}
	}
}

func locationOf(resp *http.Response) string { return resp.Header.Get("Location") }

// TestDeviceRegistration: with an initial access token a client may
// register for the device grant (public or confidential) and then use
// it; open registration keeps to the code flow.
func TestDeviceRegistration(t *testing.T) {
	env := servertest.New(t)
	for _, md := range []map[string]any{
		{"grant_types": []string{oauth.GrantDeviceCode, "refresh_token"}, "token_endpoint_auth_method": "none", "client_name": "TV"},
		{"grant_types": []string{oauth.GrantDeviceCode}, "token_endpoint_auth_method": "client_secret_post"},
	} {
		status, body, _ := register(t, env, "POST", "/register", initialToken(t, env, time.Hour, 1), md)
		if status != 201 {
			t.Fatalf("token registration of %v: %d %v", md, status, body)
		}
		form := url.Values{"client_id": {body["client_id"].(string)}, "scope": {"openid"}}
		if s, ok := body["client_secret"].(string); ok {
			form.Set("client_secret", s)
		}
		if status, out := deviceRequest(t, env.URL, form); status != 200 || !strings.Contains(out, `"device_code"`) {
			t.Fatalf("the registered client's device request: %d %s", status, out)
		}
	}
	open := servertest.New(t, func(c *server.Config) { c.Registration = "open" })
	status, body, _ := register(t, open, "POST", "/register", "", map[string]any{"grant_types": []string{oauth.GrantDeviceCode}})
	if status != 400 || body["error"] != "invalid_client_metadata" {
		t.Fatalf("device grant under open registration: %d %v", status, body)
	}
}

// TestDeviceSecondFactorSignIn: a user with an authenticator app signs in
// from the device link: password, then the code, then back on /device
// with the code prefilled; a client that needs a second factor is
// approved, and the ID token says how the user signed in.
func TestDeviceSecondFactorSignIn(t *testing.T) {
	d := newDeviceEnv(t, clients.Spec{ID: "tv-app", Name: "Living Room TV", Public: true, RequireMFA: true})
	env := d.env
	first := env.Browser(t)
	d.signIn(t, first, env.URL+"/device")
	secret, _ := enrollTOTPFromAccount(t, env, first)
	nextStep(env)

	da := d.start(t, "openid")
	b := env.Browser(t)
	resp, _ := env.Get(t, b, da.VerificationURIComplete)
	login := servertest.Location(t, resp)
	_, page := env.Get(t, b, login.String())
	resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "next": {login.Query().Get("next")},
		"email": {testEmail}, "password": {testPassword}})
	loc := servertest.Location(t, resp)
	if loc.Path != "/login/mfa" || loc.Query().Get("next") != "/device?user_code="+da.UserCode {
		t.Fatalf("the password led to %s, want the second-factor page with next", loc)
	}
	_, page = env.Get(t, b, loc.String())
	resp, _ = env.PostForm(t, b, "/login/mfa/totp", url.Values{"csrf_token": {page.CSRF()}, "next": {loc.Query().Get("next")},
		"code": {codeAt(t, secret, env.Clock.Now())}})
	if back := servertest.Location(t, resp); back.String() != env.URL+"/device?user_code="+da.UserCode {
		t.Fatalf("the second factor led to %s, want the device page", back)
	}
	_, form := env.Get(t, b, "/device?user_code="+da.UserCode)
	d.answer(t, b, form, da.UserCode, "approve")
	status, body := d.poll(t, da.DeviceCode)
	if status != http.StatusOK {
		t.Fatalf("poll: %d %v", status, body)
	}
	at, err := env.Tokens.VerifyAccessToken(context.Background(), body["access_token"].(string))
	if err != nil || !slices.Contains(at.AMR, "otp") {
		t.Fatalf("access token amr %v, %v; want otp", at, err)
	}
}
