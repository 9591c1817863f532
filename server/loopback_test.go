package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
)

// TestLoopbackRedirectAnyAddress: a native app registered with a loopback
// redirect on 127.0.0.2 (any address of 127.0.0.0/8 is loopback, RFC 8252
// §7.3) gets its code on whatever port it listens on, and redeems it with
// the redirect_uri it presented. Another address, or another spelling of
// one, is an unregistered redirect_uri: an error page, never a redirect.
func TestLoopbackRedirectAnyAddress(t *testing.T) {
	f := newFixture(t)
	env := f.env
	const registered = "http://127.0.0.2/callback"
	env.CreateClient(t, clients.Spec{ID: "cli", Public: true, Trusted: true, RedirectURIs: []string{registered},
		Metadata: clients.Metadata{ApplicationType: clients.AppNative}})
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	verifier := oauth2.GenerateVerifier()
	pkce := map[string]string{"code_challenge": oauth2.S256ChallengeFromVerifier(verifier), "code_challenge_method": "S256"}
	authorize := func(redirect string) (*http.Response, string) {
		t.Helper()
		set := map[string]string{"redirect_uri": redirect}
		for k, v := range pkce {
			set[k] = v
		}
		resp, err := b.Do(newAuthorizeRequest(t, env.URL, http.MethodGet, authorizeURL("cli", set)))
		if err != nil {
			t.Fatal(err)
		}
		return resp, readBody(t, resp)
	}

	const presented = "http://127.0.0.2:51004/callback"
	resp, page := authorize(presented)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303: %.300s", resp.StatusCode, page)
	}
	loc := servertest.Location(t, resp)
	if loc.Scheme+"://"+loc.Host+loc.Path != presented || loc.Query().Get("code") == "" {
		t.Fatalf("redirected to %s, want a code at %s", loc, presented)
	}
	tok := postToken(t, env, tokenCall{form: url.Values{"grant_type": {"authorization_code"}, "client_id": {"cli"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {presented}, "code_verifier": {verifier}}})
	if tok.resp.StatusCode != http.StatusOK || tok.str("access_token") == "" {
		t.Fatalf("the code does not redeem: %d %s", tok.resp.StatusCode, tok.raw)
	}

	for _, bad := range []string{
		"http://127.0.0.1:51004/callback",  // another loopback address
		"http://127.0.0.3/callback",        // same, no port
		"http://127.2:51004/callback",      // a short spelling of 127.0.0.2
		"http://127.0.0.2.nip.io/callback", // a name that resolves there
		"http://[::ffff:127.0.0.2]:51004/callback",
		"https://127.0.0.2:51004/callback",
		"http://127.0.0.2:51004/callback/",
	} {
		resp, page := authorize(bad)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
			continue
		}
		wantErrorPage(t, resp, page)
	}
}
