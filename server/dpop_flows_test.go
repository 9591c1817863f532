package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/dpop/dpoptest"
	"idp/oauth"
)

// DPoP with the grants added beside it: pushed authorization requests
// (RFC 9449 §10.1) and the device flow (§5).

// TestDPoPPushedRequestBindsCode: a pushed request that came with a DPoP
// proof binds its code to that key, as dpop_jkt would; a dpop_jkt that
// contradicts the proof is refused at the PAR endpoint.
func TestDPoPPushedRequestBindsCode(t *testing.T) {
	t.Parallel()
	p := newPAREnv(t)
	env := p.env
	key, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	push := func(form url.Values, proof string) apiResult {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/par", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("par-web", p.secret)
		req.Header.Set("DPoP", proof)
		return sendReq(t, req)
	}
	parProof := func(k *dpoptest.Key) string {
		return k.Proof(t, http.MethodPost, env.URL+"/par", dpoptest.Opts{IAT: env.Clock.Now()})
	}
	v := oauth2.GenerateVerifier()
	bad := authzParams(v)
	bad.Set("dpop_jkt", other.JKT)
	if r := push(bad, parProof(key)); r.status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("dpop_jkt of another key: %d %s", r.status, r.raw)
	}
	r := push(authzParams(v), parProof(key))
	if r.status != http.StatusCreated {
		t.Fatalf("push with a proof: %d %s", r.status, r.raw)
	}
	loc := env.Authorize(t, env.Browser(t), p.authorizeURL("par-web", r.str("request_uri")), testEmail, testPassword)
	code, web := loc.Query().Get("code"), creds{"par-web", p.secret}
	if ex := exchange(t, env, web, code, v, tokenProof(t, env, other, dpoptest.Opts{})); ex.str("error") != "invalid_grant" {
		t.Fatalf("redeemed with another key: %d %s", ex.status, ex.raw)
	}
	if ex := exchange(t, env, web, code, v, tokenProof(t, env, key, dpoptest.Opts{})); ex.status != 200 ||
		cnfOf(t, ex.str("access_token")) != key.JKT {
		t.Fatalf("redeemed with the pushed key: %d %s", ex.status, ex.raw)
	}
}

// TestDPoPDeviceFlow: a public device client polling with a proof gets a
// DPoP token, and its refresh token is bound to that key.
func TestDPoPDeviceFlow(t *testing.T) {
	t.Parallel()
	d := newDeviceEnv(t, clients.Spec{})
	env := d.env
	da := d.start(t, "openid", "offline_access")
	b := env.Browser(t)
	d.answer(t, b, d.signIn(t, b, da.VerificationURI), da.UserCode, "approve")
	key, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	tv := creds{id: d.clientID}
	r := postDPoPToken(t, nil, env, tv, url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {da.DeviceCode}},
		tokenProof(t, env, key, dpoptest.Opts{}))
	if r.status != 200 || r.str("token_type") != "DPoP" || cnfOf(t, r.str("access_token")) != key.JKT {
		t.Fatalf("device token with a proof: %d %s", r.status, r.raw)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}
	if rr := postDPoPToken(t, nil, env, tv, refresh, tokenProof(t, env, other, dpoptest.Opts{})); rr.str("error") != "invalid_grant" {
		t.Fatalf("refresh with another key: %d %s", rr.status, rr.raw)
	}
	if rr := postDPoPToken(t, nil, env, tv, refresh, tokenProof(t, env, key, dpoptest.Opts{})); rr.status != 200 {
		t.Fatalf("refresh with the device's key: %d %s", rr.status, rr.raw)
	}
}
