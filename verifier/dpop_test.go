package verifier_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/dpop"
	"idp/dpop/dpoptest"
	"idp/verifier"
)

const dpopAlgs = `algs="ES256 RS256 PS256 EdDSA"`

// dpopToken gets a DPoP-bound access token for key from the fixture's idp.
func (f *fixture) dpopToken(t testing.TB, key *dpoptest.Key) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.env.URL+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", key.Proof(t, http.MethodPost, f.env.URL+"/token", dpoptest.Opts{IAT: f.env.Clock.Now()}))
	req.SetBasicAuth(f.client, f.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.TokenType != "DPoP" {
		t.Fatalf("token endpoint: %d %+v %v", resp.StatusCode, body, err)
	}
	return body.AccessToken
}

// call sends GET target through h with the headers.
func call(h http.Handler, target string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestDPoPMiddleware: a bound token passes with its proof (once), and is
// refused as a bearer token, without a proof, with another key's proof,
// or with a proof for another URI, each with a DPoP challenge.
func TestDPoPMiddleware(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "ES256")
	key, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	tok := f.dpopToken(t, key)
	jkt := ""
	h := f.v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFrom(r.Context())
		jkt = c.JKT
	}))
	const target = "http://api.test/data"
	proof := func(k *dpoptest.Key, uri string) string {
		return k.Proof(t, http.MethodGet, uri, dpoptest.Opts{IAT: f.env.Clock.Now(), AccessToken: tok})
	}
	good := proof(key, target)
	if w := call(h, target, map[string]string{"Authorization": "DPoP " + tok, "DPoP": good}); w.Code != 200 || jkt != key.JKT {
		t.Fatalf("good proof: %d %s, jkt %q", w.Code, w.Body, jkt)
	}
	cases := []struct {
		name, scheme, proof, code string
	}{
		{"replayed proof", "DPoP", good, "invalid_dpop_proof"},
		{"bound token as Bearer", "Bearer", "", "invalid_token"},
		{"no proof", "DPoP", "", "invalid_token"},
		{"another key's proof", "DPoP", proof(other, target), "invalid_token"},
		{"proof for another URI", "DPoP", proof(key, "http://api.test/other"), "invalid_dpop_proof"},
		{"proof for another host", "DPoP", proof(key, "http://evil.test/data"), "invalid_dpop_proof"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": tc.scheme + " " + tok}
			if tc.proof != "" {
				hdr["DPoP"] = tc.proof
			}
			w := call(h, target, hdr)
			ch := w.Header().Get("WWW-Authenticate")
			if w.Code != 401 || !strings.HasPrefix(ch, `DPoP error="`+tc.code+`"`) || !strings.HasSuffix(ch, dpopAlgs) {
				t.Fatalf("%d %s, WWW-Authenticate %q", w.Code, w.Body, ch)
			}
		})
	}
	if w := call(h, target, nil); len(w.Header().Values("WWW-Authenticate")) != 2 ||
		w.Header().Values("WWW-Authenticate")[1] != "DPoP "+dpopAlgs {
		t.Errorf("no credentials: challenges %q", w.Header().Values("WWW-Authenticate"))
	}
	if w := call(h, target, map[string]string{"Authorization": "Bearer " + f.token(t, "api")}); w.Code != 200 || jkt != "" {
		t.Errorf("an unbound bearer token: %d %s", w.Code, w.Body)
	}
}

// TestDPoPMiddlewareRequired: with RequireDPoP, bearer tokens are refused
// with a DPoP challenge, and DPoPOrigin names the public origin behind a
// proxy.
func TestDPoPMiddlewareRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: f.env.URL, Audience: f.client, Now: f.env.Clock.Now,
		RequireDPoP: true, DPoPOrigin: "https://api.example.com", DPoPWindow: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if w := call(h, "http://10.0.0.7:8080/data", map[string]string{"Authorization": "Bearer " + f.token(t, "api")}); w.Code != 401 ||
		!strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_token"`) {
		t.Fatalf("bearer token: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := call(h, "http://10.0.0.7:8080/data", nil); w.Code != 401 || len(w.Header().Values("WWW-Authenticate")) != 1 ||
		w.Header().Get("WWW-Authenticate") != "DPoP "+dpopAlgs {
		t.Fatalf("no credentials: %d %q", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	key := dpoptest.NewKey(t)
	tok := f.dpopToken(t, key)
	proof := key.Proof(t, http.MethodGet, "https://api.example.com/data", dpoptest.Opts{IAT: f.env.Clock.Now(), AccessToken: tok})
	if w := call(h, "http://10.0.0.7:8080/data?x=1", map[string]string{"Authorization": "DPoP " + tok, "DPoP": proof}); w.Code != 200 {
		t.Fatalf("proof for the public origin: %d %s", w.Code, w.Body)
	}
	stale := key.Proof(t, http.MethodGet, "https://api.example.com/data",
		dpoptest.Opts{IAT: f.env.Clock.Now().Add(-time.Minute), AccessToken: tok})
	if w := call(h, "http://10.0.0.7:8080/data", map[string]string{"Authorization": "DPoP " + tok, "DPoP": stale}); w.Code != 401 ||
		!strings.Contains(w.Header().Get("WWW-Authenticate"), "iat") {
		t.Fatalf("a proof older than the 30 s window: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// TestDPoPResourceMetadata: the RFC 9728 document can say the resource
// takes DPoP proofs, and only DPoP-bound tokens.
func TestDPoPResourceMetadata(t *testing.T) {
	t.Parallel()
	h, err := verifier.NewMetadataHandler(verifier.ResourceMetadata{Resource: "https://api.example.com",
		AuthorizationServers: []string{"https://idp.example.com"}, DPoPSigningAlgValuesSupported: dpop.AlgNames(),
		DPoPBoundAccessTokensRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://api.example.com"+h.Path(), nil))
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["dpop_bound_access_tokens_required"] != true ||
		len(doc["dpop_signing_alg_values_supported"].([]any)) != 4 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
