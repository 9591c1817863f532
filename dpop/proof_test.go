package dpop_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/dpop"
	"idp/dpop/dpoptest"
)

const htu = "https://idp.example.com/token"

var now = time.Unix(1_900_000_000, 0).UTC()

func req() dpop.Request { return dpop.Request{Method: "POST", URL: htu, Now: now} }

func TestDPoPVerifyGood(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, k := range []*dpoptest.Key{
		dpoptest.FromSigner(t, ecKey, jose.ES256),
		dpoptest.FromSigner(t, rsaKey, jose.RS256),
		dpoptest.FromSigner(t, rsaKey, jose.PS256),
		dpoptest.FromSigner(t, edKey, jose.EdDSA),
	} {
		raw := k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now, JTI: "j1"})
		p, err := dpop.Verify(raw, req())
		if err != nil {
			t.Fatalf("%T: %v", k.Private, err)
		}
		if p.JKT != k.JKT || p.JTI != "j1" || !p.IssuedAt.Equal(now) || !p.Until.Equal(now.Add(dpop.DefaultWindow)) {
			t.Errorf("proof %+v, want jkt %s", p, k.JKT)
		}
		if len(p.ReplayKey()) != 64 {
			t.Errorf("replay key %q", p.ReplayKey())
		}
	}
}

// TestDPoPThumbprintRFC7638 checks the thumbprint against RFC 7638 §3.1's
// worked example.
func TestDPoPThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	var k jose.JSONWebKey
	err := k.UnmarshalJSON([]byte(`{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29",
	"n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}`))
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(&k)
	if err != nil || jkt != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", jkt, err)
	}
}

func TestDPoPVerifyRefuses(t *testing.T) {
	t.Parallel()
	k := dpoptest.NewKey(t)
	hdr := func(extra map[string]any) map[string]any {
		h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.PublicJWK(t)}
		for n, v := range extra {
			h[n] = v
		}
		return h
	}
	good := dpoptest.Claims("POST", htu, dpoptest.Opts{IAT: now})
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		name  string
		proof string
		r     dpop.Request
		want  error
	}{
		{"empty", "", req(), dpop.ErrMalformed},
		{"not a JWS", "a.b", req(), dpop.ErrMalformed},
		{"alg none", dpoptest.Raw(hdr(map[string]any{"alg": "none"}), good, nil), req(), dpop.ErrAlgorithm},
		{"HS256", dpoptest.Raw(hdr(map[string]any{"alg": "HS256"}), good, dpoptest.HS256([]byte("k"))), req(), dpop.ErrAlgorithm},
		{"HS256 with an oct jwk", dpoptest.Raw(hdr(map[string]any{"alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "aGk"}}), good,
			dpoptest.HS256([]byte("hi"))), req(), dpop.ErrAlgorithm},
		{"private jwk", dpoptest.Raw(hdr(map[string]any{"jwk": k.PrivateJWK(t)}), good, nil), req(), dpop.ErrKey},
		{"symmetric jwk under ES256", dpoptest.Raw(hdr(map[string]any{"jwk": map[string]any{"kty": "oct", "k": "aGk"}}), good, nil), req(), dpop.ErrKey},
		{"jwk not an object", dpoptest.Raw(hdr(map[string]any{"jwk": "key"}), good, nil), req(), dpop.ErrKey},
		{"no typ", dpoptest.Raw(map[string]any{"alg": "ES256", "jwk": k.PublicJWK(t)}, good, nil), req(), dpop.ErrType},
		{"RS256 header over an EC key", dpoptest.Raw(hdr(map[string]any{"alg": "RS256"}), good, func([]byte) []byte { return make([]byte, 256) }),
			req(), dpop.ErrSignature},
		{"no jwk", dpoptest.Raw(map[string]any{"typ": "dpop+jwt", "alg": "ES256"}, good, nil), req(), dpop.ErrKey},
		{"typ JWT", dpoptest.Raw(hdr(map[string]any{"typ": "JWT"}), good, nil), req(), dpop.ErrType},
		{"bad signature", dpoptest.Raw(hdr(nil), good, func([]byte) []byte { return make([]byte, 64) }), req(), dpop.ErrSignature},
		{"other key's signature", func() string {
			other := dpoptest.NewKey(t).Proof(t, "POST", htu, dpoptest.Opts{IAT: now})
			own := dpoptest.Raw(hdr(nil), good, nil)
			return own[:strings.LastIndex(own, ".")] + other[strings.LastIndex(other, "."):]
		}(), req(), dpop.ErrSignature},
		{"weak RSA key", dpoptest.FromSigner(t, rsaSmall, jose.RS256).Proof(t, "POST", htu, dpoptest.Opts{IAT: now}), req(), dpop.ErrKey},
		{"wrong htm", k.Proof(t, "GET", htu, dpoptest.Opts{IAT: now}), req(), dpop.ErrMethod},
		{"wrong htu", k.Proof(t, "POST", "https://idp.example.com/userinfo", dpoptest.Opts{IAT: now}), req(), dpop.ErrURI},
		{"htu of another host", k.Proof(t, "POST", "https://evil.example.com/token", dpoptest.Opts{IAT: now}), req(), dpop.ErrURI},
		{"stale iat", k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now.Add(-61 * time.Second)}), req(), dpop.ErrStale},
		{"future iat", k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now.Add(61 * time.Second)}), req(), dpop.ErrStale},
		{"no jti", k.Sign(t, map[string]any{"htm": "POST", "htu": htu, "iat": now.Unix()}), req(), dpop.ErrMalformed},
		{"no iat", k.Sign(t, map[string]any{"jti": "x", "htm": "POST", "htu": htu}), req(), dpop.ErrMalformed},
		{"ath missing", k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now}),
			dpop.Request{Method: "POST", URL: htu, Now: now, AccessToken: "at"}, dpop.ErrAccessTokenHash},
		{"ath of another token", k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now, AccessToken: "other"}),
			dpop.Request{Method: "POST", URL: htu, Now: now, AccessToken: "at"}, dpop.ErrAccessTokenHash},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dpop.Verify(tc.proof, tc.r)
			if !errors.Is(err, tc.want) || !errors.Is(err, dpop.ErrInvalidProof) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if dpop.Describe(err) != tc.want.Error() {
				t.Errorf("describe %q", dpop.Describe(err))
			}
		})
	}
}

func TestDPoPVerifyAccessTokenHashAndWindow(t *testing.T) {
	t.Parallel()
	k := dpoptest.NewKey(t)
	raw := k.Proof(t, "GET", htu, dpoptest.Opts{IAT: now.Add(-2 * time.Minute), AccessToken: "tok"})
	r := dpop.Request{Method: "GET", URL: htu, Now: now, AccessToken: "tok", Window: 3 * time.Minute}
	if _, err := dpop.Verify(raw, r); err != nil {
		t.Fatalf("ath and a wider window: %v", err)
	}
}

func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	k := dpoptest.NewKey(t)
	n := dpop.NewNonces(make([]byte, 32), time.Minute)
	other := dpop.NewNonces([]byte("another key, another server......"), time.Minute)
	check := func(at time.Time) func(string) bool { return func(s string) bool { return n.Valid(s, at) } }
	r := req()
	r.Nonce = check(now)
	if _, err := dpop.Verify(k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now}), r); !errors.Is(err, dpop.ErrUseNonce) ||
		errors.Is(err, dpop.ErrInvalidProof) {
		t.Fatalf("no nonce: %v", err)
	}
	cur := n.Current(now)
	if _, err := dpop.Verify(k.Proof(t, "POST", htu, dpoptest.Opts{IAT: now, Nonce: cur}), r); err != nil {
		t.Fatalf("current nonce: %v", err)
	}
	if !n.Valid(cur, now.Add(time.Minute)) || n.Valid(cur, now.Add(2*time.Minute)) {
		t.Error("a nonce must live one to two periods")
	}
	if n.Valid(other.Current(now), now) || n.Valid("", now) || n.Valid("garbage", now) {
		t.Error("a nonce of another key or garbage was accepted")
	}
}

func TestDPoPSameURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		htu, target string
		same        bool
	}{
		{"https://idp.example.com/token", "https://idp.example.com/token", true},
		{"HTTPS://IDP.Example.COM/token", "https://idp.example.com/token", true},
		{"https://idp.example.com:443/token", "https://idp.example.com/token", true},
		{"http://127.0.0.1:80/", "http://127.0.0.1", true},
		{"https://idp.example.com/token?x=1#f", "https://idp.example.com/token?y=2", true},
		{"http://[::1]:8080/t", "http://[::1]:8080/t", true},
		{"http://[::1]/t", "http://[::1]:80/t", true},
		{"https://idp.example.com/Token", "https://idp.example.com/token", false},
		{"http://idp.example.com/token", "https://idp.example.com/token", false},
		{"https://idp.example.com:8443/token", "https://idp.example.com/token", false},
		{"https://idp.example.com/token/", "https://idp.example.com/token", false},
		{"/token", "https://idp.example.com/token", false},
		{"ftp://idp.example.com/token", "ftp://idp.example.com/token", false},
		{"https://user@idp.example.com/token", "https://idp.example.com/token", false},
		{"", "", false},
	} {
		if got := dpop.SameURI(tc.htu, tc.target); got != tc.same {
			t.Errorf("SameURI(%q, %q) = %v", tc.htu, tc.target, got)
		}
	}
}

func TestDPoPMemoryReplay(t *testing.T) {
	t.Parallel()
	clock := now
	m := dpop.NewMemory(2, func() time.Time { return clock })
	claim := func(k string, until time.Time) bool {
		ok, err := m.Claim(t.Context(), k, until)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim("a", now.Add(time.Minute)) || claim("a", now.Add(time.Minute)) {
		t.Fatal("a replay was not caught")
	}
	if !claim("b", now.Add(2*time.Minute)) || claim("c", now.Add(time.Minute)) {
		t.Fatal("a full cache must refuse rather than forget")
	}
	clock = now.Add(time.Minute)
	if !claim("c", now.Add(3*time.Minute)) {
		t.Fatal("an expired entry was not swept to make room")
	}
	if claim("a", now.Add(3*time.Minute)) || m.Len() != 2 {
		t.Errorf("a full cache of live proofs took another (len %d)", m.Len())
	}
}
