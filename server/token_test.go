package server_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// codeGrant is a fresh code issued to the web client with PKCE S256, and
// the request that redeems it.
type codeGrant struct{ code, verifier string }

// good is the correct redemption: client_secret_basic, redirect_uri, verifier.
func (f *fixture) good(g codeGrant) tokenCall {
	return tokenCall{basic: [2]string{webID, f.webSecret}, form: url.Values{
		"grant_type": {"authorization_code"}, "code": {g.code},
		"redirect_uri": {testRedirect}, "code_verifier": {g.verifier},
	}}
}

// with returns the good call with form changes ("" removes a field).
func (f *fixture) with(g codeGrant, set map[string]string) tokenCall {
	c := f.good(g)
	for k, v := range set {
		if v == "" {
			c.form.Del(k)
		} else {
			c.form.Set(k, v)
		}
	}
	return c
}

type tokenCase struct {
	name string
	call func(f *fixture, g codeGrant) tokenCall
	// advance moves the clock before the call.
	advance time.Duration
	status  int
	err     string
	// basicChallenge: the answer must carry WWW-Authenticate: Basic.
	basicChallenge bool
	// survives: the code still redeems afterwards with the right request;
	// a refused attempt must not burn the legitimate client's code.
	survives bool
}

func TestTokenEndpointRefusals(t *testing.T) {
	other := func(f *fixture, g codeGrant) tokenCall {
		c := f.good(g)
		c.basic = [2]string{otherID, f.otherSecret}
		return c
	}
	cases := []tokenCase{
		{name: "wrong code_verifier", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				return f.with(g, map[string]string{"code_verifier": oauth2.GenerateVerifier()})
			}},
		{name: "missing code_verifier", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"code_verifier": ""}) }},
		{name: "malformed code_verifier", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"code_verifier": "short"}) }},
		{name: "code_challenge sent as the verifier", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				return f.with(g, map[string]string{"code_verifier": oauth2.S256ChallengeFromVerifier(g.verifier)})
			}},
		{name: "code of another client", status: 400, err: "invalid_grant", survives: true, call: other},
		{name: "redirect_uri mismatch", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				return f.with(g, map[string]string{"redirect_uri": testRedirect + "/"})
			}},
		{name: "missing redirect_uri", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"redirect_uri": ""}) }},
		{name: "unknown code", status: 400, err: "invalid_grant", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"code": g.code + "x"}) }},
		{name: "expired code", advance: 61 * time.Second, status: 400, err: "invalid_grant",
			call: func(f *fixture, g codeGrant) tokenCall { return f.good(g) }},
		{name: "wrong client secret, Basic", status: 401, err: "invalid_client", basicChallenge: true, survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.basic[1] = f.webSecret + "x"
				return c
			}},
		{name: "wrong client secret, client_secret_post", status: 401, err: "invalid_client", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.with(g, map[string]string{"client_id": webID, "client_secret": f.otherSecret})
				c.basic = [2]string{}
				return c
			}},
		{name: "unknown client, Basic", status: 401, err: "invalid_client", basicChallenge: true, survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.basic[0] = "nope"
				return c
			}},
		{name: "Basic and client_secret_post together", status: 400, err: "invalid_request", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				return f.with(g, map[string]string{"client_secret": f.webSecret})
			}},
		{name: "Basic client differs from form client_id", status: 400, err: "invalid_request", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"client_id": otherID}) }},
		{name: "confidential client without a secret", status: 401, err: "invalid_client", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.with(g, map[string]string{"client_id": webID})
				c.basic = [2]string{}
				return c
			}},
		{name: "confidential client, Basic with an empty secret", status: 401, err: "invalid_client", basicChallenge: true, survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.basic[1] = ""
				return c
			}},
		{name: "no client authentication", status: 401, err: "invalid_client", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.basic = [2]string{}
				return c
			}},
		{name: "malformed Basic header", status: 401, err: "invalid_client", basicChallenge: true, survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.basic = [2]string{}
				c.raw, c.contentType = c.form.Encode(), "application/x-www-form-urlencoded"
				c.headers = map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon"))}
				return c
			}},
		{name: "missing grant_type", status: 400, err: "invalid_request", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"grant_type": ""}) }},
		{name: "unsupported grant_type", status: 400, err: "unsupported_grant_type", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall { return f.with(g, map[string]string{"grant_type": "password"}) }},
		{name: "grant the client may not use", status: 400, err: "unauthorized_client", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				return f.with(g, map[string]string{"grant_type": "client_credentials"})
			}},
		{name: "repeated code", status: 400, err: "invalid_request", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.form.Add("code", g.code)
				return c
			}},
		{name: "JSON body", status: 400, err: "invalid_request", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.raw, c.contentType = `{"grant_type":"authorization_code","code":"`+g.code+`"}`, "application/json"
				return c
			}},
		{name: "body over 64 KiB", status: 413, err: "invalid_request", survives: true,
			call: func(f *fixture, g codeGrant) tokenCall {
				c := f.good(g)
				c.raw, c.contentType = c.form.Encode()+"&pad="+strings.Repeat("x", 70<<10), "application/x-www-form-urlencoded"
				return c
			}},
	}
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			g := codeGrant{f.code(t, b, webID, map[string]string{
				"code_challenge": oauth2.S256ChallengeFromVerifier(v), "code_challenge_method": "S256",
			}), v}
			env.Clock.Advance(tc.advance)
			before := countRows(t, env)
			res := postToken(t, env, tc.call(f, g))
			wantOAuthError(t, res, tc.status, tc.err)
			challenge := res.resp.Header.Get("WWW-Authenticate")
			if tc.basicChallenge != strings.HasPrefix(challenge, "Basic ") {
				t.Errorf("WWW-Authenticate %q; Basic challenge wanted: %v", challenge, tc.basicChallenge)
			}
			if after := countRows(t, env); after != before {
				t.Errorf("state changed: before %+v, after %+v", before, after)
			}
			ok := postToken(t, env, f.good(g))
			if survived := ok.resp.StatusCode == http.StatusOK; survived != tc.survives {
				t.Errorf("the right request afterwards: %d %s (should work: %v)", ok.resp.StatusCode, ok.raw, tc.survives)
			}
		})
	}
}

func TestTokenSuccessIsNotCached(t *testing.T) {
	f := newFixture(t)
	b := f.env.Browser(t)
	res := f.exchange(t, firstID, f.code(t, b, firstID, nil), "")
	if res.resp.StatusCode != http.StatusOK || res.str("access_token") == "" || res.str("id_token") == "" ||
		res.str("token_type") != "Bearer" {
		t.Fatalf("exchange: %d %s", res.resp.StatusCode, res.raw)
	}
	if res.resp.Header.Get("Cache-Control") != "no-store" || res.resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q", res.resp.Header.Get("Cache-Control"), res.resp.Header.Get("Pragma"))
	}
}

func TestTokenWrongMethodIsJSON(t *testing.T) {
	env := newFixture(t).env
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, env.URL+"/token", nil)
		req.Header.Set("Accept", "text/html")
		res := doJSON(t, req)
		t.Run(m, func(t *testing.T) { wantOAuthError(t, res, http.StatusMethodNotAllowed, "invalid_request") })
	}
}

// TestCodeReplayRevokesWhatItIssued: RFC 6749 §4.1.2 — a code used twice
// is refused, and the access token of its first use stops working.
func TestCodeReplayRevokesWhatItIssued(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	code := f.code(t, b, firstID, nil)
	first := f.exchange(t, firstID, code, "")
	at := first.str("access_token")
	if first.resp.StatusCode != http.StatusOK || at == "" {
		t.Fatalf("first exchange: %d %s", first.resp.StatusCode, first.raw)
	}
	if ui := userinfo(t, env, at); ui.resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo before the replay: %d %s", ui.resp.StatusCode, ui.raw)
	}
	second := f.exchange(t, firstID, code, "")
	wantOAuthError(t, second, http.StatusBadRequest, "invalid_grant")
	if second.str("access_token") != "" {
		t.Errorf("the replay was answered with tokens: %s", second.raw)
	}
	ui := userinfo(t, env, at)
	wantBearerError(t, ui, http.StatusUnauthorized, "invalid_token")
	// A replay by someone else (another client) is refused just the same.
	third := postToken(t, env, tokenCall{basic: [2]string{otherID, f.otherSecret}, form: url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}})
	wantOAuthError(t, third, http.StatusBadRequest, "invalid_grant")
}
