package verifier_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/verifier"
)

// fakeIssuer serves a JWKS the test controls, for cache behaviour that
// idp itself never shows (other max-ages, outages, odd keys).
type fakeIssuer struct {
	srv   *httptest.Server
	count *counter
	clock *clock

	mu           sync.Mutex
	keys         []jose.JSONWebKey
	cacheControl string
	age          string
	status       int // non-zero: answer this instead
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// fakeIssuerKID is the kid under which the fake issuer publishes rogueKey.
const fakeIssuerKID = "k1"

func newFakeIssuer(t testing.TB) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{clock: &clock{t: time.Now()}, cacheControl: "public, max-age=300",
		keys: []jose.JSONWebKey{{Key: &rogueKey.PublicKey, KeyID: fakeIssuerKID, Algorithm: "RS256", Use: "sig"}}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.count = &counter{base: http.DefaultTransport}
	return f
}

// serve answers the JWKS with a strong ETag over the body, like idp.
func (f *fakeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	body, _ := json.Marshal(jose.JSONWebKeySet{Keys: f.keys})
	etag := `"` + strings.Repeat("x", len(body)%7) + string(rune('a'+len(f.keys))) + `"`
	w.Header().Set("ETag", etag)
	if f.cacheControl != "" {
		w.Header().Set("Cache-Control", f.cacheControl)
	}
	if f.age != "" {
		w.Header().Set("Age", f.age)
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(body)
}

// set changes what the issuer serves from now on.
func (f *fakeIssuer) set(fn func(f *fakeIssuer)) { f.mu.Lock(); defer f.mu.Unlock(); fn(f) }

// verifier builds a verifier of the fake issuer's tokens for audience "api".
func (f *fakeIssuer) verifier(t testing.TB) *verifier.Verifier {
	t.Helper()
	v, err := verifier.New(context.Background(), verifier.Config{
		Issuer: "https://fake.example", JWKSURL: f.srv.URL + "/jwks", Audience: "api", Now: f.clock.Now,
		HTTPClient: &http.Client{Transport: f.count},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// token is a valid access token of the fake issuer, signed with k under kid.
func (f *fakeIssuer) token(t testing.TB, kid string, k *rsa.PrivateKey) string {
	t.Helper()
	now := f.clock.Now().Unix()
	return rawJWS(t, map[string]any{"alg": "RS256", "kid": kid, "typ": "at+jwt"}, map[string]any{
		"iss": "https://fake.example", "sub": "s", "aud": "api", "client_id": "c", "jti": "j",
		"exp": now + 3600, "iat": now,
	}, rsaSign(k))
}

// TestCacheLifetime: the set is reused while fresh and refetched exactly
// when it goes stale, by the response's max-age less its Age, floored at
// MinRefetchInterval (10 s) and capped at an hour.
func TestCacheLifetime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cacheControl, age string
		fresh             time.Duration
	}{
		{"public, max-age=60", "", time.Minute},
		{"max-age=60", "50", 10 * time.Second},
		{"max-age=60", "55", 10 * time.Second},
		{"no-store", "", 10 * time.Second},
		{"max-age=0", "", 10 * time.Second},
		{"", "", 5 * time.Minute},
		{"public, max-age=31536000", "", time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.cacheControl+" age "+tc.age, func(t *testing.T) {
			iss := newFakeIssuer(t)
			iss.set(func(f *fakeIssuer) { f.cacheControl, f.age = tc.cacheControl, tc.age })
			v := iss.verifier(t)
			tok := iss.token(t, fakeIssuerKID, rogueKey)
			iss.clock.Advance(tc.fresh - time.Second)
			if _, err := v.VerifyAccessToken(context.Background(), tok); err != nil || iss.count.jwks.Load() != 1 {
				t.Fatalf("while fresh: %v, %d fetches", err, iss.count.jwks.Load())
			}
			iss.clock.Advance(time.Second)
			if _, err := v.VerifyAccessToken(context.Background(), tok); err != nil || iss.count.jwks.Load() != 2 {
				t.Fatalf("once stale: %v, %d fetches", err, iss.count.jwks.Load())
			}
		})
	}
}

// TestOutageKeepsLastGoodKeys: when the JWKS cannot be fetched, known keys
// keep verifying (an idp outage must not take services down), unknown kids
// are refused, and a key missing from the set once idp is back is refused.
func TestOutageKeepsLastGoodKeys(t *testing.T) {
	t.Parallel()
	iss := newFakeIssuer(t)
	v := iss.verifier(t)
	ctx := context.Background()
	tok := iss.token(t, fakeIssuerKID, rogueKey)

	iss.set(func(f *fakeIssuer) { f.status = http.StatusBadGateway })
	iss.clock.Advance(5*time.Minute + time.Second)
	if _, err := v.VerifyAccessToken(ctx, tok); err != nil {
		t.Fatalf("known key during an outage: %v", err)
	}
	iss.clock.Advance(10 * time.Second)
	_, err := v.VerifyAccessToken(ctx, iss.token(t, "k2", rogueKey))
	wantErr(t, err, verifier.ErrUnknownKey)
	if !strings.Contains(err.Error(), "status 502") {
		t.Errorf("error %q does not say the refresh failed", err)
	}

	iss.set(func(f *fakeIssuer) { f.status, f.keys = 0, []jose.JSONWebKey{} })
	iss.clock.Advance(10 * time.Second)
	_, err = v.VerifyAccessToken(ctx, tok)
	wantErr(t, err, verifier.ErrUnknownKey)
}

// TestUnusableKeysAreIgnored: keys that cannot verify RS256 or ES256 tokens
// safely are dropped one by one, without rejecting the rest of the set.
func TestUnusableKeysAreIgnored(t *testing.T) {
	t.Parallel()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	iss := newFakeIssuer(t)
	iss.set(func(f *fakeIssuer) {
		f.keys = append(f.keys,
			jose.JSONWebKey{Key: []byte("shared-secret"), KeyID: "hmac", Algorithm: "HS256"},
			jose.JSONWebKey{Key: &weak.PublicKey, KeyID: "weak", Algorithm: "RS256"},
			jose.JSONWebKey{Key: &rogueKey.PublicKey, KeyID: "enc", Algorithm: "RS256", Use: "enc"},
			jose.JSONWebKey{Key: &rogueKey.PublicKey, KeyID: "mislabelled", Algorithm: "ES256"},
			jose.JSONWebKey{Key: &rogueKey.PublicKey, KeyID: "dup", Algorithm: "RS256"},
			jose.JSONWebKey{Key: &rogueKey.PublicKey, KeyID: "dup", Algorithm: "RS256"},
		)
	})
	v := iss.verifier(t)
	ctx := context.Background()
	if _, err := v.VerifyAccessToken(ctx, iss.token(t, fakeIssuerKID, rogueKey)); err != nil {
		t.Fatalf("the good key: %v", err)
	}
	for _, k := range []string{"weak", "enc", "mislabelled", "dup"} {
		signer := rogueKey
		if k == "weak" {
			signer = weak
		}
		_, err := v.VerifyAccessToken(ctx, iss.token(t, k, signer))
		if !errors.Is(err, verifier.ErrUnknownKey) {
			t.Errorf("kid %s: %v, want ErrUnknownKey", k, err)
		}
	}
	hs := rawJWS(t, map[string]any{"alg": "HS256", "kid": "hmac", "typ": "at+jwt"}, map[string]any{"iss": "https://fake.example"},
		hmacWith([]byte("shared-secret")))
	_, err = v.VerifyAccessToken(ctx, hs)
	wantErr(t, err, verifier.ErrAlgorithm)
}

// FuzzVerifyAccessToken: no input panics, and every refusal matches
// ErrInvalidToken (so the middleware answers 401, never 500).
func FuzzVerifyAccessToken(f *testing.F) {
	iss := newFakeIssuer(f)
	v := iss.verifier(f)
	good := iss.token(f, fakeIssuerKID, rogueKey)
	f.Add(good)
	f.Add(flipSignature(f, good))
	f.Add("e30.e30.")
	f.Add(`eyJhbGciOiJub25lIn0.e30.`)
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := v.VerifyAccessToken(context.Background(), raw)
		if err != nil && !errors.Is(err, verifier.ErrInvalidToken) {
			t.Fatalf("%q: %v does not match ErrInvalidToken", raw, err)
		}
		if err == nil && raw != good {
			t.Fatalf("%q verified", raw)
		}
	})
}
