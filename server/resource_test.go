package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"idp/clients"
)

// audienceOf verifies an access token and returns its aud.
func audienceOf(t *testing.T, f *fixture, token string) []string {
	t.Helper()
	c, err := f.env.Tokens.VerifyAccessToken(context.Background(), token)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	aud := []string(c.Audience)
	slices.Sort(aud)
	return aud
}

// TestResourceIndicatorsEndToEnd: RFC 8707 §2.2 at the token endpoint. A
// code granted for two resources may be redeemed for one of them (the
// refresh family keeps both); a refresh may narrow to either, or ask for
// both again; a resource outside the grant is invalid_target and burns
// neither the code nor the refresh token.
func TestResourceIndicatorsEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	const one, two, other = "https://api.one.example", "https://api.two.example", "https://api.other.example"
	u := authorizeURL(webID, map[string]string{"scope": "openid offline_access"}) +
		"&resource=" + url.QueryEscape(one) + "&resource=" + url.QueryEscape(two)
	res := walk(t, env, env.Browser(t), u, testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v %+v", res.loc, res.page)
	}
	code := res.loc.Query().Get("code")
	redeem := func(resources ...string) tokenResult {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
			"resource": resources}
		return postToken(t, env, tokenCall{form: form, basic: [2]string{webID, f.webSecret}})
	}
	before := rowSnapshot(t, env)
	wantOAuthError(t, redeem(other), http.StatusBadRequest, "invalid_target")
	wantOAuthError(t, redeem(one, other), http.StatusBadRequest, "invalid_target")
	wantOAuthError(t, redeem("/relative"), http.StatusBadRequest, "invalid_target")
	if after := rowSnapshot(t, env); after != before {
		t.Fatalf("a refused redemption changed rows: %+v -> %+v", before, after)
	}
	tok := redeem(one)
	if tok.resp.StatusCode != http.StatusOK {
		t.Fatalf("redeem for %s after the refusals: %d %s", one, tok.resp.StatusCode, tok.raw)
	}
	if aud := audienceOf(t, f, tok.str("access_token")); !slices.Equal(aud, []string{one}) {
		t.Fatalf("code redeemed for %s: aud %v", one, aud)
	}
	web := creds{webID, f.webSecret}
	refresh := tok.str("refresh_token")
	step := func(want []string, resources ...string) {
		t.Helper()
		r := refreshWith(t, env, web, refresh, url.Values{"resource": resources})
		if r.status != http.StatusOK {
			t.Fatalf("refresh for %v: %d %s", resources, r.status, r.raw)
		}
		if aud := audienceOf(t, f, r.str("access_token")); !slices.Equal(aud, want) {
			t.Fatalf("refresh for %v: aud %v, want %v", resources, aud, want)
		}
		refresh = r.str("refresh_token")
	}
	step([]string{two}, two) // the family kept both, though the code's token was for one
	step([]string{one, two})
	before = rowSnapshot(t, env)
	wantError(t, refreshWith(t, env, web, refresh, url.Values{"resource": {other}}), http.StatusBadRequest, "invalid_target")
	wantError(t, refreshWith(t, env, web, refresh, url.Values{"resource": {"urn:x#frag"}}), http.StatusBadRequest, "invalid_target")
	if after := rowSnapshot(t, env); after != before {
		t.Fatalf("a refused refresh changed rows: %+v -> %+v", before, after)
	}
	step([]string{one}, one, one) // the refused ones did not spend the token; repeats collapse
}

// TestResourceOnTokenRequestNeedsOneInTheGrant: a code granted without
// resources is for the client; the token request cannot name an audience
// the user never saw.
func TestResourceOnTokenRequestNeedsOneInTheGrant(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := walk(t, f.env, f.env.Browser(t), authorizeURL(webID, nil), testEmail, testPassword)
	if res.loc == nil || res.loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v %+v", res.loc, res.page)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {res.loc.Query().Get("code")},
		"redirect_uri": {testRedirect}, "resource": {"https://api.one.example"}}
	wantOAuthError(t, postToken(t, f.env, tokenCall{form: form, basic: [2]string{webID, f.webSecret}}),
		http.StatusBadRequest, "invalid_target")
	form.Del("resource")
	tok := postToken(t, f.env, tokenCall{form: form, basic: [2]string{webID, f.webSecret}})
	if tok.resp.StatusCode != http.StatusOK {
		t.Fatalf("the code was burnt by the refused request: %d %s", tok.resp.StatusCode, tok.raw)
	}
	if aud := audienceOf(t, f, tok.str("access_token")); !slices.Equal(aud, []string{webID}) {
		t.Fatalf("aud %v, want the client", aud)
	}
}

// TestResourceWithClientCredentials: the service names its audience; a
// malformed one is invalid_target.
func TestResourceWithClientCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, secret := f.env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{clients.GrantClientCredentials},
		Scopes: []string{"api:read"}})
	svc := creds{"svc", secret}
	r := callAPI(t, f.env, "/token", svc, url.Values{"grant_type": {"client_credentials"},
		"resource": {"https://api.two.example", "https://api.one.example"}})
	if r.status != http.StatusOK {
		t.Fatalf("client_credentials with resources: %d %s", r.status, r.raw)
	}
	if aud := audienceOf(t, f, r.str("access_token")); !slices.Equal(aud, []string{"https://api.one.example", "https://api.two.example"}) {
		t.Fatalf("aud %v", aud)
	}
	wantError(t, callAPI(t, f.env, "/token", svc, url.Values{"grant_type": {"client_credentials"}, "resource": {"api"}}),
		http.StatusBadRequest, "invalid_target")
}
