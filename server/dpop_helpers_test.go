package server_test

// Helpers of the DPoP tests (RFC 9449): token requests and UserInfo calls
// that carry a proof, and a code flow that ends in a token response.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"idp/dpop/dpoptest"
	"idp/server/servertest"
)

// postDPoPToken posts form to the token endpoint with proof in the DPoP
// header ("" for none), through client hc (nil: the default client).
func postDPoPToken(t *testing.T, hc *http.Client, env *servertest.Env, c creds, form url.Values, proof string) apiResult {
	t.Helper()
	if c.id != "" && c.secret == "" {
		form.Set("client_id", c.id)
	}
	req, err := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.secret != "" {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return sendWith(t, hc, req)
}

// userinfoWith calls GET /userinfo with "Authorization: <scheme> <token>"
// and proof in the DPoP header ("" for none).
func userinfoWith(t *testing.T, env *servertest.Env, scheme, token, proof string) apiResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", scheme+" "+token)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return sendReq(t, req)
}

// sendWith is sendReq through hc (nil: the default client).
func sendWith(t *testing.T, hc *http.Client, req *http.Request) apiResult {
	t.Helper()
	if hc == nil {
		return sendReq(t, req)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := apiResult{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return r
}

// tokenProof is a fresh proof by key for POST /token at env's clock.
func tokenProof(t *testing.T, env *servertest.Env, key *dpoptest.Key, o dpoptest.Opts) string {
	t.Helper()
	if o.IAT.IsZero() {
		o.IAT = env.Clock.Now()
	}
	return key.Proof(t, http.MethodPost, env.URL+"/token", o)
}

// userinfoProof is a fresh proof by key for GET /userinfo with token.
func userinfoProof(t *testing.T, env *servertest.Env, key *dpoptest.Key, token string) string {
	t.Helper()
	return key.Proof(t, http.MethodGet, env.URL+"/userinfo", dpoptest.Opts{IAT: env.Clock.Now(), AccessToken: token})
}

// dpopCode signs the test user in for client id (trusted, so no consent)
// with PKCE and offline_access, and returns the code and its verifier.
func dpopCode(t *testing.T, env *servertest.Env, id string) (code, verifier string) {
	t.Helper()
	return dpopCodeFor(t, env, id, "openid offline_access")
}

// dpopCodeFor is dpopCode for scope, with extra authorization parameters.
func dpopCodeFor(t *testing.T, env *servertest.Env, id, scope string, extra ...string) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {testRedirect},
		"scope": {scope}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	loc := env.Authorize(t, env.Browser(t), env.URL+"/authorize?"+q.Encode(), testEmail, testPassword)
	if loc.Query().Get("code") == "" {
		t.Fatalf("no code in %s", loc)
	}
	return loc.Query().Get("code"), verifier
}

// exchange redeems a code with proof ("" for none).
func exchange(t *testing.T, env *servertest.Env, c creds, code, verifier, proof string) apiResult {
	t.Helper()
	return postDPoPToken(t, nil, env, c, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier}}, proof)
}

// cnfOf returns the cnf.jkt of an access token ("" when unbound).
func cnfOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Cnf *struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Cnf == nil {
		return ""
	}
	return c.Cnf.JKT
}
