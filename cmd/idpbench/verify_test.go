package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const testIssuer = "http://127.0.0.1:8080"

// testKeys is a JWKS with one RS256 and one ES256 key, and their private halves.
type testKeys struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	jwks []byte
}

func newTestKeys(t *testing.T) *testKeys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: rk.Public(), KeyID: "rs1", Algorithm: "RS256", Use: "sig"},
		{Key: ek.Public(), KeyID: "es1", Algorithm: "ES256", Use: "sig"},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return &testKeys{rsa: rk, ec: ek, jwks: b}
}

// sign makes a compact JWS of claims with key, header alg, kid and typ.
func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func accessClaims() map[string]any {
	return map[string]any{"iss": testIssuer, "sub": "user-1", "aud": []string{"app"}, "client_id": "app",
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(), "jti": "j1", "scope": "openid"}
}

func TestVerifySample(t *testing.T) {
	k := newTestKeys(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	with := func(change func(map[string]any)) map[string]any {
		c := accessClaims()
		change(c)
		return c
	}
	idClaims := with(func(c map[string]any) { delete(c, "client_id"); c["nonce"] = "n1" })
	cases := []struct {
		name  string
		token string
		kind  tokenKind
		nonce string
		bad   string // "" for a token that must pass; else part of the failure
	}{
		{"RS256 access token", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", accessClaims()), accessToken, "", ""},
		{"ES256 access token", sign(t, k.ec, jose.ES256, "es1", "at+jwt", accessClaims()), accessToken, "", ""},
		{"ID token", sign(t, k.ec, jose.ES256, "es1", "JWT", idClaims), idToken, "n1", ""},
		{"unknown kid", sign(t, k.ec, jose.ES256, "nope", "at+jwt", accessClaims()), accessToken, "", "not in the JWKS"},
		{"kid of a key of another alg", sign(t, k.ec, jose.ES256, "rs1", "at+jwt", accessClaims()), accessToken, "", "header alg ES256 but key rs1 is RS256"},
		{"signed by another key", sign(t, other, jose.ES256, "es1", "at+jwt", accessClaims()), accessToken, "", "signature"},
		{"access token without typ", sign(t, k.rsa, jose.RS256, "rs1", "", accessClaims()), accessToken, "", "typ"},
		{"ID token typed as access token", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", idClaims), idToken, "n1", "ID token has typ at+jwt"},
		{"wrong issuer", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", with(func(c map[string]any) { c["iss"] = "http://evil" })), accessToken, "", "iss"},
		{"wrong audience", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", with(func(c map[string]any) { c["aud"] = "other" })), accessToken, "", "aud"},
		{"expired", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() })), accessToken, "", "expired"},
		{"no exp", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", with(func(c map[string]any) { delete(c, "exp") })), accessToken, "", "expired"},
		{"wrong client_id", sign(t, k.rsa, jose.RS256, "rs1", "at+jwt", with(func(c map[string]any) { c["client_id"] = "x" })), accessToken, "", "client_id"},
		{"wrong nonce", sign(t, k.ec, jose.ES256, "es1", "JWT", idClaims), idToken, "n2", "nonce"},
		{"not a JWT", "a.b.c", accessToken, "", "parse"},
	}
	v, err := newVerifier(testIssuer, k.jwks, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.verify(tc.token, tc.kind, "app", tc.nonce)
			if tc.bad == "" {
				if err != nil || c.Subject != "user-1" {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var f *failure
			if !errors.As(err, &f) || f.Kind != "verify" || !strings.Contains(f.Detail, tc.bad) {
				t.Fatalf("want a verify failure about %q, got %v", tc.bad, err)
			}
		})
	}
}

// TestVerifierRefetchesOnce: an unknown kid triggers one JWKS refetch
// (a rotated key), never one per token.
func TestVerifierRefetchesOnce(t *testing.T) {
	old, cur := newTestKeys(t), newTestKeys(t)
	fetches := 0
	v, err := newVerifier(testIssuer, old.jwks, func() ([]byte, error) { fetches++; return cur.jwks, nil })
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, cur.rsa, jose.RS256, "rs1", "at+jwt", accessClaims())
	// old's rs1 is a different key: same kid, so no refetch and a bad signature.
	if _, err := v.verify(tok, accessToken, "app", ""); err == nil {
		t.Fatal("token of a different key with a known kid verified")
	}
	if fetches != 0 {
		t.Fatalf("refetched for a known kid")
	}
	v2, _ := newVerifier(testIssuer, []byte(`{"keys":[]}`), nil)
	if v2 != nil {
		t.Fatal("accepted an empty JWKS")
	}
	unknown := sign(t, cur.ec, jose.ES256, "es-new", "at+jwt", accessClaims())
	for range 3 {
		_, _ = v.verify(unknown, accessToken, "app", "")
	}
	if fetches != 1 {
		t.Fatalf("%d refetches for one unknown kid, want 1", fetches)
	}
}

func TestHeaderAlg(t *testing.T) {
	k := newTestKeys(t)
	if got := headerAlg(sign(t, k.ec, jose.ES256, "es1", "at+jwt", accessClaims())); got != "ES256" {
		t.Fatalf("headerAlg = %q", got)
	}
	if got := headerAlg("garbage"); got != "" {
		t.Fatalf("headerAlg(garbage) = %q", got)
	}
}
