package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/admin"
	"idp/clients"
	"idp/resources"
)

const ordersAPI = "https://orders.example/api"

// userTokenFor runs the code flow for the fixture's user at the web client
// with the given resource indicators and returns the token response.
func userTokenFor(t *testing.T, f *fixture, resource ...string) tokenResult {
	t.Helper()
	u := authorizeURL(webID, map[string]string{"scope": "openid email offline_access"})
	for _, r := range resource {
		u += "&resource=" + url.QueryEscape(r)
	}
	res := walk(t, f.env, f.env.Browser(t), u, testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("no code for %v: %v %+v", resource, res.loc, res.page)
	}
	tok := f.exchange(t, webID, res.loc.Query().Get("code"), "")
	if tok.resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d %s", tok.resp.StatusCode, tok.raw)
	}
	return tok
}

// TestResourceIntrospectsItsTokens: a registered API authenticates at the
// introspection endpoint with its URI and secret (Basic, form-urlencoded
// per RFC 6749 §2.3.1, or in the body) and learns active=true with the
// claims for a user's token issued for it — and only for those: a token
// for the client alone, for another API, or a refresh token is
// active=false; a wrong secret is 401; a revoked token turns inactive.
func TestResourceIntrospectsItsTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	secret := env.CreateResource(t, resources.Spec{URI: ordersAPI, Name: "Orders", Scopes: []string{"orders:read"}})
	api := creds{ordersAPI, secret}

	tok := userTokenFor(t, f, ordersAPI)
	at := tok.str("access_token")
	intro := func(c creds, token string) apiResult {
		return callAPI(t, env, "/introspect", c, url.Values{"token": {token}})
	}
	r := intro(api, at)
	if r.status != http.StatusOK || r.body["active"] != true || r.str("sub") != f.user.ID || r.str("client_id") != webID ||
		!strings.Contains(r.str("scope"), "email") || r.body["exp"] == nil || r.str("aud") != ordersAPI {
		t.Fatalf("the API introspecting its token: %d %s", r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	post := callAPI(t, env, "/introspect", creds{}, url.Values{"token": {at}, "client_id": {ordersAPI}, "client_secret": {secret}})
	if post.body["active"] != true {
		t.Errorf("credentials in the body: %d %s", post.status, post.raw)
	}

	inactive := func(name string, r apiResult) {
		t.Helper()
		if r.status != http.StatusOK || r.body["active"] != false || len(r.body) != 1 {
			t.Errorf("%s: %d %s, want only active=false", name, r.status, r.raw)
		}
	}
	plain := userTokenFor(t, f)
	inactive("a token for the client alone", intro(api, plain.str("access_token")))
	inactive("a token for another API", intro(api, userTokenFor(t, f, "https://api.one.example").str("access_token")))
	inactive("a refresh token", intro(api, tok.str("refresh_token")))
	inactive("garbage", intro(api, "not-a-token"))
	if c := intro(creds{webID, f.webSecret}, at); c.body["active"] != true {
		t.Errorf("the client introspecting its own token: %s", c.raw)
	}

	for name, c := range map[string]creds{
		"wrong secret":         {ordersAPI, strings.Repeat("x", 43)},
		"unknown resource":     {"https://ghost.example/api", secret},
		"another API's secret": {"https://api.one.example", secret},
	} {
		if r := intro(c, at); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" || r.body["active"] != nil {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := callAPI(t, env, "/introspect", creds{}, url.Values{"token": {at}, "client_id": {ordersAPI}}); r.status != http.StatusUnauthorized {
		t.Errorf("no secret: %d %s", r.status, r.raw)
	}

	if rev := callAPI(t, env, "/revoke", creds{webID, f.webSecret}, url.Values{"token": {at}}); rev.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", rev.status, rev.raw)
	}
	inactive("after revocation", intro(api, at))
}

// headerAlg returns a compact JWS's alg.
func headerAlg(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.Algorithm
}

// lifetime returns exp - iat of a JWT, unverified (the token came from
// the token endpoint in the same test).
func lifetime(t *testing.T, token string) time.Duration {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Exp, Iat int64 }
	_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c)
	return time.Duration(c.Exp-c.Iat) * time.Second
}

// TestResourcePolicies: only registered resources get tokens
// (invalid_target otherwise, at the authorization and token endpoints,
// nothing stored); a client's default resource is the aud when it names
// none; a resource's own algorithm and shorter lifetime show in its
// access tokens while the ID token stays the client's; resources that
// disagree on the algorithm cannot share a token.
func TestResourcePolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	env.CreateResource(t, resources.Spec{URI: ordersAPI, SigningAlg: "ES256", AccessTokenTTL: 5 * time.Minute, NoSecret: true})
	env.CreateResource(t, resources.Spec{URI: "https://rsa.example/api", SigningAlg: "RS256", NoSecret: true})

	// Unknown at the authorization endpoint: an error redirect, no code.
	res := walk(t, env, env.Browser(t), authorizeURL(webID, nil)+"&resource="+url.QueryEscape("https://ghost.example/api"), testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("error") != "invalid_target" || res.loc.Query().Get("code") != "" {
		t.Fatalf("unknown resource at /authorize: %v", res.loc)
	}

	// … and when pushed (RFC 9126): refused before anything is stored.
	pushed := callAPI(t, env, "/par", creds{webID, f.webSecret}, url.Values{"response_type": {"code"}, "redirect_uri": {testRedirect},
		"scope": {"openid"}, "state": {"s"}, "resource": {"https://ghost.example/api"}})
	if pushed.status != http.StatusBadRequest || pushed.str("error") != "invalid_target" {
		t.Fatalf("unknown resource at /par: %d %s", pushed.status, pushed.raw)
	}

	tok := userTokenFor(t, f, ordersAPI)
	at, idt := tok.str("access_token"), tok.str("id_token")
	if headerAlg(t, at) != "ES256" || headerAlg(t, idt) != "RS256" {
		t.Errorf("access token %s, ID token %s; want ES256 and the client's RS256", headerAlg(t, at), headerAlg(t, idt))
	}
	if d := lifetime(t, at); d != 5*time.Minute {
		t.Errorf("access token lives %s, want the resource's 5m", d)
	}
	if d := lifetime(t, idt); d == 5*time.Minute {
		t.Errorf("the ID token took the resource's lifetime")
	}
	if tok.body["expires_in"] != float64(300) {
		t.Errorf("expires_in %v", tok.body["expires_in"])
	}
	r := refreshWith(t, env, creds{webID, f.webSecret}, tok.str("refresh_token"), nil)
	if r.status != http.StatusOK || headerAlg(t, r.str("access_token")) != "ES256" || lifetime(t, r.str("access_token")) != 5*time.Minute {
		t.Errorf("refresh for the resource: %d %s", r.status, r.raw)
	}
	if c, err := env.Tokens.VerifyAccessToken(context.Background(), at); err != nil || !c.Audience.Contains(ordersAPI) {
		t.Errorf("the ES256 token does not verify against the JWKS: %v", err)
	}

	// Two resources asking for different algorithms cannot share a token.
	res = walk(t, env, env.Browser(t), authorizeURL(webID, nil)+"&resource="+url.QueryEscape(ordersAPI)+
		"&resource="+url.QueryEscape("https://rsa.example/api"), testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("error") != "invalid_target" {
		t.Fatalf("mixed algorithms: %v", res.loc)
	}

	// client_credentials: unknown refused, default resource applied.
	spec := clients.Spec{ID: "svc", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"orders:read"}}
	spec.DefaultResource = ordersAPI
	_, secret := env.CreateClient(t, spec)
	svc := creds{"svc", secret}
	before := rowSnapshot(t, env)
	wantError(t, callAPI(t, env, "/token", svc, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://ghost.example/api"}}),
		http.StatusBadRequest, "invalid_target")
	if after := rowSnapshot(t, env); after != before {
		t.Fatalf("a refused request changed rows: %+v -> %+v", before, after)
	}
	cc := callAPI(t, env, "/token", svc, url.Values{"grant_type": {"client_credentials"}})
	if cc.status != http.StatusOK || headerAlg(t, cc.str("access_token")) != "ES256" {
		t.Fatalf("client_credentials with the default resource: %d %s", cc.status, cc.raw)
	}
	if aud := audienceOf(t, f, cc.str("access_token")); len(aud) != 1 || aud[0] != ordersAPI {
		t.Fatalf("default resource: aud %v", aud)
	}
	cc = callAPI(t, env, "/token", svc, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://rsa.example/api"}})
	if aud := audienceOf(t, f, cc.str("access_token")); len(aud) != 1 || aud[0] != "https://rsa.example/api" {
		t.Fatalf("a named resource over the default: aud %v", aud)
	}

	// A code-flow client with a default resource gets it too.
	web := clients.SpecOf(mustClient(t, env, webID))
	web.DefaultResource = ordersAPI
	if _, err := env.Clients.Update(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	if aud := audienceOf(t, f, userTokenFor(t, f).str("access_token")); len(aud) != 1 || aud[0] != ordersAPI {
		t.Fatalf("code flow with a default resource: aud %v", aud)
	}

	// A deleted resource gets no more tokens, even through a refresh.
	if err := env.Resources.Store().Delete(context.Background(), ordersAPI); err != nil {
		t.Fatal(err)
	}
	wantError(t, refreshWith(t, env, creds{webID, f.webSecret}, r.str("refresh_token"), nil), http.StatusBadRequest, "invalid_target")

	// The admin layer refuses a default resource that is not registered.
	_, _, err := env.App.Admin.CreateClient(context.Background(), admin.Actor{Name: "test"}, clients.Spec{ID: "bad",
		RedirectURIs: []string{testRedirect}, Metadata: clients.Metadata{DefaultResource: "https://ghost.example/api"}})
	var inv *admin.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("unregistered default resource: %v", err)
	}
}

// TestDeviceTokensForDefaultResource: a device request names no resource
// (RFC 8628 has none), so a device client's default resource is the aud
// of its access tokens, with that resource's algorithm and lifetime.
func TestDeviceTokensForDefaultResource(t *testing.T) {
	spec := clients.Spec{ID: "tv-app", Name: "Living Room TV", Public: true}
	spec.DefaultResource = ordersAPI
	d := newDeviceEnv(t, spec)
	d.env.CreateResource(t, resources.Spec{URI: ordersAPI, SigningAlg: "ES256", AccessTokenTTL: 2 * time.Minute, NoSecret: true})
	da := d.start(t, "openid")
	b := d.env.Browser(t)
	d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "approve")
	status, body := d.poll(t, da.DeviceCode)
	at, _ := body["access_token"].(string)
	if status != http.StatusOK || at == "" {
		t.Fatalf("poll after approval: %d %v", status, body)
	}
	c, err := d.env.Tokens.VerifyAccessToken(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Audience) != 1 || c.Audience[0] != ordersAPI || headerAlg(t, at) != "ES256" || lifetime(t, at) != 2*time.Minute {
		t.Fatalf("device access token: aud %v alg %s life %s", c.Audience, headerAlg(t, at), lifetime(t, at))
	}
}
