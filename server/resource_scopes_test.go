package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"idp/clients"
	"idp/resources"
)

// The APIs of the scope scenarios: scopedAPI declares read, billingAPI
// declares bill, and the fixture's https://api.one.example declares none.
const (
	scopedAPI  = "https://scoped.example/api"
	billingAPI = "https://billing.example/api"
	openAPI    = "https://api.one.example"
)

// scopeFixture is the fixture with the two scoped APIs registered and the
// web client allowed their scopes (and write, which neither declares).
func scopeFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.env.CreateResource(t, resources.Spec{URI: scopedAPI, Scopes: []string{"read"}, NoSecret: true})
	f.env.CreateResource(t, resources.Spec{URI: billingAPI, Scopes: []string{"bill"}, NoSecret: true})
	web := clients.SpecOf(mustClient(t, f.env, webID))
	web.Scopes = append(web.Scopes, "read", "write", "bill")
	if _, err := f.env.Clients.Update(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	return f
}

// wantScopeRefused checks an invalid_scope answer that names the scope.
func wantScopeRefused(t *testing.T, r apiResult, scope string) {
	t.Helper()
	wantError(t, r, http.StatusBadRequest, "invalid_scope")
	if !strings.Contains(r.str("error_description"), "scope "+scope) || r.body["access_token"] != nil {
		t.Errorf("the refusal does not name %s, or issued a token: %s", scope, r.raw)
	}
}

// issued checks a token answer whose scope, access-token scope claim and
// introspected scope (by caller) are all want, and returns it.
func issued(t *testing.T, f *fixture, caller creds, r apiResult, want string) apiResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("want scope %q: %d %s", want, r.status, r.raw)
	}
	at := r.str("access_token")
	if r.str("scope") != want || accessScope(t, f.env, at) != want {
		t.Fatalf("response scope %q, token scope %q, want %q", r.str("scope"), accessScope(t, f.env, at), want)
	}
	if in := callAPI(t, f.env, "/introspect", caller, url.Values{"token": {at}}); in.body["active"] != true || in.str("scope") != want {
		t.Fatalf("introspection: %s, want scope %q", in.raw, want)
	}
	return r
}

// TestResourceScopesClientCredentials: a service asking a token for a
// resource that declares scopes gets only those (invalid_scope for any
// other, and no token); OIDC-free default scopes shrink to them; a
// resource that declares none accepts any, also beside one that does;
// the default resource is held to the same rule.
func TestResourceScopesClientCredentials(t *testing.T) {
	t.Parallel()
	f := scopeFixture(t)
	env := f.env
	_, secret := env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{clients.GrantClientCredentials},
		Scopes: []string{"read", "write", "bill"}})
	svc := creds{"svc", secret}
	cc := func(c creds, scope string, resource ...string) apiResult {
		form := url.Values{"grant_type": {"client_credentials"}, "resource": resource}
		if scope != "" {
			form.Set("scope", scope)
		}
		return callAPI(t, env, "/token", c, form)
	}

	r := issued(t, f, svc, cc(svc, "read", scopedAPI), "read")
	if aud := audienceOf(t, f, r.str("access_token")); len(aud) != 1 || aud[0] != scopedAPI {
		t.Fatalf("aud %v", aud)
	}
	wantScopeRefused(t, cc(svc, "write", scopedAPI), "write")
	wantScopeRefused(t, cc(svc, "read write", scopedAPI), "write")
	issued(t, f, svc, cc(svc, "", scopedAPI), "read") // the client's scopes, less what the API does not define
	issued(t, f, svc, cc(svc, "read bill", scopedAPI, billingAPI), "read bill")
	wantScopeRefused(t, cc(svc, "write", scopedAPI, billingAPI), "write")
	issued(t, f, svc, cc(svc, "write", openAPI), "write")
	issued(t, f, svc, cc(svc, "write", scopedAPI, openAPI), "write")
	issued(t, f, svc, cc(svc, "write"), "write") // no resource: the client alone

	spec := clients.Spec{ID: "svc-default", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"read", "write"}}
	spec.DefaultResource = scopedAPI
	_, secret = env.CreateClient(t, spec)
	def := creds{"svc-default", secret}
	wantScopeRefused(t, cc(def, "write"), "write")
	r = issued(t, f, def, cc(def, "read"), "read")
	if aud := audienceOf(t, f, r.str("access_token")); len(aud) != 1 || aud[0] != scopedAPI {
		t.Fatalf("default resource: aud %v", aud)
	}
}

// TestResourceScopesAtAuthorize: /authorize (GET and POST) and /par with
// resource=R and an API scope R does not declare answer invalid_scope —
// an error redirect with state and iss, or 400 at /par — and store
// nothing; OIDC scopes and R's own go through a code flow.
func TestResourceScopesAtAuthorize(t *testing.T) {
	t.Parallel()
	f := scopeFixture(t)
	env := f.env
	stored := func() [3]int64 {
		return [3]int64{rowCount(t, env, "auth_requests", ""), rowCount(t, env, "pushed_requests", ""), rowCount(t, env, "sessions", "")}
	}
	before := stored()
	params := url.Values{"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {testRedirect},
		"scope": {"openid write"}, "state": {testState}, "resource": {scopedAPI}}
	refused := func(name string, resp *http.Response) {
		t.Helper()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), testRedirect) {
			t.Fatalf("%s: %d to %q, want a redirect to the client", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("error") != "invalid_scope" || !strings.Contains(q.Get("error_description"), "scope write") ||
			q.Get("state") != testState || q.Get("iss") != env.URL || q.Get("code") != "" {
			t.Fatalf("%s: %v", name, loc)
		}
	}
	resp, _ := env.Get(t, env.Browser(t), "/authorize?"+params.Encode())
	refused("GET /authorize", resp)
	resp, _ = env.PostForm(t, env.Browser(t), "/authorize", params)
	refused("POST /authorize", resp)
	pushed := callAPI(t, env, "/par", creds{webID, f.webSecret}, params)
	wantScopeRefused(t, pushed, "write")
	if pushed.body["request_uri"] != nil {
		t.Fatalf("/par pushed a refused request: %s", pushed.raw)
	}
	if after := stored(); after != before {
		t.Fatalf("a refused request stored something: %v -> %v", before, after)
	}

	u := authorizeURL(webID, map[string]string{"scope": "openid profile offline_access read"}) + "&resource=" + url.QueryEscape(scopedAPI)
	res := walk(t, env, env.Browser(t), u, testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v %+v", res.loc, res.page)
	}
	tok := f.exchange(t, webID, res.loc.Query().Get("code"), "")
	if tok.resp.StatusCode != http.StatusOK || tok.str("id_token") == "" || tok.str("refresh_token") == "" ||
		tok.str("scope") != "openid profile offline_access read" || accessScope(t, f.env, tok.str("access_token")) != tok.str("scope") {
		t.Fatalf("code flow: %d %s", tok.resp.StatusCode, tok.raw)
	}
}

// TestResourceScopesOnRefresh: a grant for [scoped, billing] with read
// and bill. Narrowed to one resource (at the code or a refresh), the
// access token and the answer's scope drop the other's scopes; an explicit
// scope the audience does not allow is invalid_scope and spends nothing;
// the family keeps the whole grant, so the next refresh for both has both
// again — until a scope is removed from its resource, after which no new
// access token carries it while the refresh token's grant still names it.
func TestResourceScopesOnRefresh(t *testing.T) {
	t.Parallel()
	f := scopeFixture(t)
	env := f.env
	web := creds{webID, f.webSecret}
	u := authorizeURL(webID, map[string]string{"scope": "openid email offline_access read bill"}) +
		"&resource=" + url.QueryEscape(scopedAPI) + "&resource=" + url.QueryEscape(billingAPI)
	res := walk(t, env, env.Browser(t), u, testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v %+v", res.loc, res.page)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {res.loc.Query().Get("code")},
		"redirect_uri": {testRedirect}, "resource": {scopedAPI}}
	code := callAPI(t, env, "/token", web, form)
	issued(t, f, web, code, "openid email offline_access read")
	refresh := code.str("refresh_token")
	step := func(want string, extra url.Values) apiResult {
		t.Helper()
		r := issued(t, f, web, refreshWith(t, env, web, refresh, extra), want)
		if r.str("id_token") == "" {
			t.Fatalf("no ID token: %s", r.raw)
		}
		refresh = r.str("refresh_token")
		return r
	}
	step("openid email offline_access read bill", nil) // the family kept both
	r := step("openid email offline_access read", url.Values{"resource": {scopedAPI}})
	if aud := audienceOf(t, f, r.str("access_token")); len(aud) != 1 || aud[0] != scopedAPI {
		t.Fatalf("narrowed: aud %v", aud)
	}
	if ui := userinfoStatus(t, env, r.str("access_token")); ui.status != http.StatusOK || ui.str("email") != testEmail {
		t.Fatalf("userinfo with the narrowed token: %d %s", ui.status, ui.raw)
	}

	before := rowSnapshot(t, env)
	wantScopeRefused(t, refreshWith(t, env, web, refresh, url.Values{"resource": {scopedAPI}, "scope": {"openid bill"}}), "bill")
	unchanged(t, env, before)
	step("openid read", url.Values{"resource": {scopedAPI}, "scope": {"openid read"}})
	step("openid email offline_access read bill", nil)

	// bill is removed from its API: gone from the next access token, kept
	// in the refresh token's grant.
	if _, err := env.Resources.Update(context.Background(), resources.Spec{URI: billingAPI, Scopes: []string{"pay"}}); err != nil {
		t.Fatal(err)
	}
	step("openid email offline_access read", nil)
	wantScopeRefused(t, refreshWith(t, env, web, refresh, url.Values{"scope": {"openid bill"}}), "bill")
	if in := callAPI(t, env, "/introspect", web, url.Values{"token": {refresh}}); !strings.Contains(in.str("scope"), "bill") {
		t.Fatalf("the refresh token lost its grant: %s", in.raw)
	}
}

// TestResourceScopesDevice: a device client's default resource holds its
// device authorization request to the resource's scopes (invalid_scope,
// no device code), and an allowed request gets them — as the resource
// stands when the device polls.
func TestResourceScopesDevice(t *testing.T) {
	spec := clients.Spec{ID: "tv-app", Name: "Living Room TV", Public: true, Scopes: []string{"openid", "read", "write"}}
	spec.DefaultResource = scopedAPI
	d := newDeviceEnv(t, spec)
	d.env.CreateResource(t, resources.Spec{URI: scopedAPI, Scopes: []string{"read"}, NoSecret: true})
	r := callAPI(t, d.env, "/device_authorization", creds{id: "tv-app"}, url.Values{"scope": {"openid write"}})
	wantScopeRefused(t, r, "write")
	if n := rowCount(t, d.env, "device_codes", ""); n != 0 || r.body["device_code"] != nil {
		t.Fatalf("a refused device request stored %d codes: %s", n, r.raw)
	}
	da := d.start(t, "openid", "read")
	b := d.env.Browser(t)
	d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "approve")
	status, body := d.poll(t, da.DeviceCode)
	at, _ := body["access_token"].(string)
	if status != http.StatusOK || body["scope"] != "openid read" {
		t.Fatalf("poll after approval: %d %v", status, body)
	}
	if c, err := d.env.Tokens.VerifyAccessToken(context.Background(), at); err != nil || c.Scope != "openid read" {
		t.Fatalf("device access token: %+v %v", c, err)
	}

	// read is removed from the API between approval and poll.
	da = d.start(t, "openid", "read")
	b = d.env.Browser(t)
	d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "approve")
	if _, err := d.env.Resources.Update(context.Background(), resources.Spec{URI: scopedAPI, Scopes: []string{"pay"}}); err != nil {
		t.Fatal(err)
	}
	status, body = d.poll(t, da.DeviceCode)
	at, _ = body["access_token"].(string)
	if status != http.StatusOK || body["scope"] != "openid" || accessScope(t, d.env, at) != "openid" {
		t.Fatalf("poll after read was removed: %d %v", status, body)
	}
}
