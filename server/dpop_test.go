package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idp/clients"
	"idp/dpop/dpoptest"
	"idp/server"
	"idp/server/servertest"
)

// dpopAlgs is the algs parameter every DPoP challenge carries (RFC 9449 §7.1).
const dpopAlgs = `algs="ES256 RS256 PS256 EdDSA"`

// TestDPoPTokenBoundToProofKey: a code redeemed with a proof gives a DPoP
// token whose cnf.jkt is the proof key's thumbprint, which UserInfo takes
// with the DPoP scheme and a proof by that key; without a proof the same
// flow stays Bearer.
func TestDPoPTokenBoundToProofKey(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, Trusted: true, RedirectURIs: []string{testRedirect}})
	key := dpoptest.NewKey(t)

	code, v := dpopCode(t, env, "spa")
	r := exchange(t, env, creds{id: "spa"}, code, v, tokenProof(t, env, key, dpoptest.Opts{}))
	if r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("exchange with a proof: %d %s", r.status, r.raw)
	}
	at := r.str("access_token")
	if got := cnfOf(t, at); got != key.JKT {
		t.Fatalf("cnf.jkt %q, want the proof key's thumbprint %q", got, key.JKT)
	}
	if u := userinfoWith(t, env, "DPoP", at, userinfoProof(t, env, key, at)); u.status != 200 || u.str("sub") == "" {
		t.Fatalf("userinfo with DPoP: %d %s", u.status, u.raw)
	}

	code, v = dpopCode(t, env, "spa")
	r = exchange(t, env, creds{id: "spa"}, code, v, "")
	if r.status != 200 || r.str("token_type") != "Bearer" || cnfOf(t, r.str("access_token")) != "" {
		t.Fatalf("exchange without a proof: %d %s", r.status, r.raw)
	}
	if u := userinfoWith(t, env, "Bearer", r.str("access_token"), ""); u.status != 200 {
		t.Fatalf("userinfo with an unbound bearer token: %d %s", u.status, u.raw)
	}
	if u := userinfoWith(t, env, "DPoP", r.str("access_token"), userinfoProof(t, env, key, r.str("access_token"))); u.status != 401 ||
		u.str("error") != "invalid_token" {
		t.Fatalf("an unbound token with the DPoP scheme: %d %s", u.status, u.raw)
	}
}

// TestDPoPTokenRefusesBadProofs is the bad-proof matrix at the token
// endpoint: each is 400 invalid_dpop_proof and issues nothing.
func TestDPoPTokenRefusesBadProofs(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, secret := env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})
	c := creds{"svc", secret}
	key := dpoptest.NewKey(t)
	now := env.Clock.Now()
	form := func() url.Values { return url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}} }
	replayed := tokenProof(t, env, key, dpoptest.Opts{})
	if r := postDPoPToken(t, nil, env, c, form(), replayed); r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("first use of a proof: %d %s", r.status, r.raw)
	}
	hdr := func(alg string, jwk any) map[string]any {
		return map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": jwk}
	}
	good := dpoptest.Claims(http.MethodPost, env.URL+"/token", dpoptest.Opts{IAT: now})
	cases := []struct{ name, proof string }{
		{"replay", replayed},
		{"wrong htu", key.Proof(t, http.MethodPost, env.URL+"/userinfo", dpoptest.Opts{IAT: now})},
		{"wrong htm", key.Proof(t, http.MethodGet, env.URL+"/token", dpoptest.Opts{IAT: now})},
		{"stale iat", tokenProof(t, env, key, dpoptest.Opts{IAT: now.Add(-5 * time.Minute)})},
		{"alg none", dpoptest.Raw(hdr("none", key.PublicJWK(t)), good, nil)},
		{"HS256", dpoptest.Raw(hdr("HS256", map[string]any{"kty": "oct", "k": "c2VjcmV0"}), good, dpoptest.HS256([]byte("secret")))},
		{"private jwk", dpoptest.Raw(hdr("ES256", key.PrivateJWK(t)), good, nil)},
		{"garbage", "not-a-jwt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := postDPoPToken(t, nil, env, c, form(), tc.proof)
			if r.status != 400 || r.str("error") != "invalid_dpop_proof" || r.str("access_token") != "" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
	}
}

// TestDPoPUserInfoChallenges: a bound token without its proof, as Bearer,
// or with another key's proof is 401 invalid_token with a DPoP challenge;
// a bad proof is invalid_dpop_proof; no credentials offers both schemes.
func TestDPoPUserInfoChallenges(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, Trusted: true, RedirectURIs: []string{testRedirect}})
	key, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	code, v := dpopCode(t, env, "spa")
	at := exchange(t, env, creds{id: "spa"}, code, v, tokenProof(t, env, key, dpoptest.Opts{})).str("access_token")
	good := userinfoProof(t, env, key, at)
	if r := userinfoWith(t, env, "DPoP", at, good); r.status != 200 {
		t.Fatalf("good proof: %d %s", r.status, r.raw)
	}
	noATH := key.Proof(t, http.MethodGet, env.URL+"/userinfo", dpoptest.Opts{IAT: env.Clock.Now()})
	cases := []struct {
		name, scheme, proof, code string
	}{
		{"bound token as Bearer", "Bearer", "", "invalid_token"},
		{"bound token as Bearer with a proof", "Bearer", userinfoProof(t, env, key, at), "invalid_token"},
		{"DPoP without a proof", "DPoP", "", "invalid_token"},
		{"proof by another key", "DPoP", userinfoProof(t, env, other, at), "invalid_token"},
		{"proof without ath", "DPoP", noATH, "invalid_dpop_proof"},
		{"replayed proof", "DPoP", good, "invalid_dpop_proof"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := userinfoWith(t, env, tc.scheme, at, tc.proof)
			ch := r.header.Get("WWW-Authenticate")
			if r.status != 401 || r.str("error") != tc.code ||
				!strings.HasPrefix(ch, `DPoP error="`+tc.code+`"`) || !strings.Contains(ch, dpopAlgs) {
				t.Fatalf("%d %s, WWW-Authenticate %q", r.status, r.raw, ch)
			}
		})
	}
	r := userinfoWith(t, env, "", "", "")
	if ch := r.header.Values("WWW-Authenticate"); r.status != 401 || len(ch) != 2 || !strings.HasPrefix(ch[0], "Bearer ") ||
		ch[1] != "DPoP "+dpopAlgs {
		t.Fatalf("no credentials: %d, challenges %q", r.status, ch)
	}
}

// TestDPoPRefreshBinding: a public client's refresh token issued with DPoP
// refreshes only with that key (another key or none is invalid_grant, and
// the family survives); a confidential client's is unbound, and each new
// access token is bound to the proof of its refresh (RFC 9449 §5).
func TestDPoPRefreshBinding(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, Trusted: true, RedirectURIs: []string{testRedirect}})
	_, secret := env.CreateClient(t, clients.Spec{ID: "web", Trusted: true, RedirectURIs: []string{testRedirect}})
	key, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	refresh := func(c creds, rt, proof string) apiResult {
		return postDPoPToken(t, nil, env, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, proof)
	}

	spa := creds{id: "spa"}
	code, v := dpopCode(t, env, "spa")
	rt := exchange(t, env, spa, code, v, tokenProof(t, env, key, dpoptest.Opts{})).str("refresh_token")
	for name, proof := range map[string]string{"another key": tokenProof(t, env, other, dpoptest.Opts{}), "no proof": ""} {
		if r := refresh(spa, rt, proof); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("public client, %s: %d %s", name, r.status, r.raw)
		}
	}
	r := refresh(spa, rt, tokenProof(t, env, key, dpoptest.Opts{}))
	if r.status != 200 || r.str("token_type") != "DPoP" || cnfOf(t, r.str("access_token")) != key.JKT {
		t.Fatalf("public client, its own key: %d %s", r.status, r.raw)
	}
	if r = refresh(spa, r.str("refresh_token"), tokenProof(t, env, other, dpoptest.Opts{})); r.str("error") != "invalid_grant" {
		t.Fatalf("the rotated token stays bound: %d %s", r.status, r.raw)
	}

	web := creds{"web", secret}
	code, v = dpopCode(t, env, "web")
	rt = exchange(t, env, web, code, v, tokenProof(t, env, key, dpoptest.Opts{})).str("refresh_token")
	r = refresh(web, rt, tokenProof(t, env, other, dpoptest.Opts{}))
	if r.status != 200 || cnfOf(t, r.str("access_token")) != other.JKT {
		t.Fatalf("confidential client, a new key: %d %s", r.status, r.raw)
	}
	in := introspectToken(t, env, web, r.str("access_token"), "")
	if cnf, _ := in.body["cnf"].(map[string]any); in.body["active"] != true || cnf["jkt"] != other.JKT {
		t.Fatalf("introspection of a bound token lacks its cnf (RFC 9449 §6.2): %s", in.raw)
	}
	if r = refresh(web, r.str("refresh_token"), ""); r.status != 200 || r.str("token_type") != "Bearer" {
		t.Fatalf("confidential client, no proof: %d %s", r.status, r.raw)
	}
}

// TestDPoPRequiredByClient: a client registered with --require-dpop
// (dpop_bound_access_tokens) gets no token without a proof.
func TestDPoPRequiredByClient(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, secret := env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"},
		Metadata: clients.Metadata{DPoPBoundAccessTokens: true}})
	form := func() url.Values { return url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}} }
	if r := postDPoPToken(t, nil, env, creds{"svc", secret}, form(), ""); r.status != 400 || r.str("error") != "invalid_request" {
		t.Fatalf("without a proof: %d %s", r.status, r.raw)
	}
	key := dpoptest.NewKey(t)
	if r := postDPoPToken(t, nil, env, creds{"svc", secret}, form(), tokenProof(t, env, key, dpoptest.Opts{})); r.status != 200 ||
		cnfOf(t, r.str("access_token")) != key.JKT {
		t.Fatalf("with a proof: %d %s", r.status, r.raw)
	}
}

// TestDPoPNonceRoundTrip: with --dpop-nonce, a proof without the server's
// nonce is use_dpop_nonce with a DPoP-Nonce header, at the token endpoint
// (400) and at UserInfo (401, DPoP challenge); the retry with it works.
func TestDPoPNonceRoundTrip(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.DPoPNonce = true })
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, Trusted: true, RedirectURIs: []string{testRedirect}})
	key := dpoptest.NewKey(t)
	code, v := dpopCode(t, env, "spa")
	r := exchange(t, env, creds{id: "spa"}, code, v, tokenProof(t, env, key, dpoptest.Opts{}))
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != 400 || r.str("error") != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: %d %s, DPoP-Nonce %q", r.status, r.raw, nonce)
	}
	r = exchange(t, env, creds{id: "spa"}, code, v, tokenProof(t, env, key, dpoptest.Opts{Nonce: nonce}))
	if r.status != 200 || r.str("token_type") != "DPoP" || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s", r.status, r.raw)
	}
	at := r.str("access_token")
	u := userinfoWith(t, env, "DPoP", at, userinfoProof(t, env, key, at))
	if u.status != 401 || u.str("error") != "use_dpop_nonce" || u.header.Get("DPoP-Nonce") == "" ||
		!strings.HasPrefix(u.header.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) {
		t.Fatalf("userinfo without the nonce: %d %s %q", u.status, u.raw, u.header.Get("WWW-Authenticate"))
	}
	proof := key.Proof(t, http.MethodGet, env.URL+"/userinfo", dpoptest.Opts{IAT: env.Clock.Now(), AccessToken: at,
		Nonce: u.header.Get("DPoP-Nonce")})
	if u = userinfoWith(t, env, "DPoP", at, proof); u.status != 200 {
		t.Fatalf("userinfo with the nonce: %d %s", u.status, u.raw)
	}
	// Two nonce periods (5 min each) later the first nonce is stale; the
	// access token (10 min, 30 s leeway) is not yet.
	env.Clock.Advance(10*time.Minute + 10*time.Second)
	proof = key.Proof(t, http.MethodGet, env.URL+"/userinfo", dpoptest.Opts{IAT: env.Clock.Now(), AccessToken: at, Nonce: nonce})
	if u = userinfoWith(t, env, "DPoP", at, proof); u.str("error") != "use_dpop_nonce" {
		t.Fatalf("a stale nonce: %d %s", u.status, u.raw)
	}
}

// TestDPoPAcrossReplicas: a proof used at one replica is refused at
// another (the replay table is shared), and a nonce handed out by one is
// accepted by the other (nonces are stateless under the shared key).
func TestDPoPAcrossReplicas(t *testing.T) {
	t.Parallel()
	cl := servertest.NewCluster(t, 2, func(c *server.Config) { c.DPoPNonce = true })
	env := cl.Instances[0]
	_, secret, err := env.Clients.Create(context.Background(), clients.Spec{ID: "svc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	c := creds{"svc", secret}
	form := func() url.Values { return url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}} }
	key := dpoptest.NewKey(t)
	r := postDPoPToken(t, cl.Pinned(0), env, c, form(), tokenProof(t, env, key, dpoptest.Opts{}))
	nonce := r.header.Get("DPoP-Nonce")
	if r.str("error") != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("replica 0 without a nonce: %d %v", r.status, r.body)
	}
	proof := tokenProof(t, env, key, dpoptest.Opts{Nonce: nonce})
	if r = postDPoPToken(t, cl.Pinned(1), env, c, form(), proof); r.status != 200 {
		t.Fatalf("replica 1 with replica 0's nonce: %d %v", r.status, r.body)
	}
	if r = postDPoPToken(t, cl.Pinned(0), env, c, form(), proof); r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("the same proof at replica 0: %d %v", r.status, r.body)
	}
}

// TestDPoPDiscovery: discovery lists the proof algorithms (RFC 9449 §5.1).
func TestDPoPDiscovery(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	resp, err := http.Get(env.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if strings.Join(doc.Algs, " ") != "ES256 RS256 PS256 EdDSA" {
		t.Fatalf("dpop_signing_alg_values_supported %v", doc.Algs)
	}
}

// TestDPoPBoundTokenNotBearerAtAdminAPI: the admin API takes bearer tokens
// only, so a DPoP-bound admin token is refused there, never accepted as
// a bearer token; the same flow without a proof works.
func TestDPoPBoundTokenNotBearerAtAdminAPI(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword, "admin")
	_, secret := env.CreateClient(t, clients.Spec{ID: "console", Trusted: true, RedirectURIs: []string{testRedirect},
		Scopes: []string{"openid", "idp:admin"}})
	c := creds{"console", secret}
	keysAPI := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/admin/keys", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return sendReq(t, req).status
	}
	code, v := dpopCodeFor(t, env, "console", "openid idp:admin")
	bound := exchange(t, env, c, code, v, tokenProof(t, env, dpoptest.NewKey(t), dpoptest.Opts{})).str("access_token")
	if got := keysAPI(bound); got != 401 {
		t.Fatalf("a DPoP-bound admin token as bearer: %d, want 401", got)
	}
	code, v = dpopCodeFor(t, env, "console", "openid idp:admin")
	if got := keysAPI(exchange(t, env, c, code, v, "").str("access_token")); got != 200 {
		t.Fatalf("the same flow without DPoP: %d, want 200", got)
	}
}

// TestDPoPCodeBoundByDPoPJKT: a code requested with dpop_jkt (RFC 9449
// §10) is redeemed only with a proof by that key; wrong attempts do not
// burn it. A malformed dpop_jkt is refused at /authorize.
func TestDPoPCodeBoundByDPoPJKT(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, Trusted: true, RedirectURIs: []string{testRedirect}})
	key, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	spa := creds{id: "spa"}
	code, v := dpopCodeFor(t, env, "spa", "openid", "dpop_jkt", key.JKT)
	for name, proof := range map[string]string{"no proof": "", "another key": tokenProof(t, env, other, dpoptest.Opts{})} {
		if r := exchange(t, env, spa, code, v, proof); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := exchange(t, env, spa, code, v, tokenProof(t, env, key, dpoptest.Opts{})); r.status != 200 || cnfOf(t, r.str("access_token")) != key.JKT {
		t.Fatalf("the bound key: %d %s", r.status, r.raw)
	}

	q := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {testRedirect}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "dpop_jkt": {"short"}}
	resp, err := env.Browser(t).Get(env.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther ||
		loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("malformed dpop_jkt: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestDPoPPurge: the GC loop's Purge forgets used proofs once they would
// be stale anyway, and not before.
func TestDPoPPurge(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, secret := env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}
	if r := postDPoPToken(t, nil, env, creds{"svc", secret}, form, tokenProof(t, env, dpoptest.NewKey(t), dpoptest.Opts{})); r.status != 200 {
		t.Fatalf("token: %d %v", r.status, r.body)
	}
	if _, err := env.App.Purge(context.Background(), 100); err != nil || rowCount(t, env, "dpop_proofs", "") != 1 {
		t.Fatalf("a live proof was purged (%v)", err)
	}
	env.Clock.Advance(61 * time.Second)
	if _, err := env.App.Purge(context.Background(), 100); err != nil || rowCount(t, env, "dpop_proofs", "") != 0 {
		t.Fatalf("a stale proof was kept (%v)", err)
	}
}

// TestDPoPReplayRace: one proof sent to two replicas at once, several
// times over, buys exactly one token (the primary key is the lock).
func TestDPoPReplayRace(t *testing.T) {
	t.Parallel()
	cl := servertest.NewCluster(t, 2)
	env := cl.Instances[0]
	_, secret, err := env.Clients.Create(context.Background(), clients.Spec{ID: "svc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	proof := tokenProof(t, env, dpoptest.NewKey(t), dpoptest.Opts{})
	var wg sync.WaitGroup
	var won, refused atomic.Int32
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}
			r := postDPoPToken(t, cl.Pinned(i%2), env, creds{"svc", secret}, form, proof)
			switch {
			case r.status == 200:
				won.Add(1)
			case r.body["error"] == "invalid_dpop_proof":
				refused.Add(1)
			default:
				t.Errorf("unexpected answer %d %v", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 || refused.Load() != 5 {
		t.Fatalf("%d won, %d refused; want 1 and 5", won.Load(), refused.Load())
	}
}
