package verifier_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idp/clients"
	"idp/server/servertest"
	"idp/verifier"
)

// counter is a RoundTripper that counts JWKS requests and records what
// they sent and got, so tests can assert "exactly one fetch".
type counter struct {
	base        http.RoundTripper
	jwks        atomic.Int64 // JWKS requests sent
	notModified atomic.Int64 // of which answered 304
	mu          sync.Mutex
	ifNoneMatch []string // If-None-Match of each JWKS request
	etags       []string // ETag of each JWKS response
}

// RoundTrip forwards r and counts it when it is for a JWKS.
func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if !strings.Contains(r.URL.Path, "jwks") {
		return resp, err
	}
	c.jwks.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ifNoneMatch = append(c.ifNoneMatch, r.Header.Get("If-None-Match"))
	if err == nil {
		c.etags = append(c.etags, resp.Header.Get("ETag"))
		if resp.StatusCode == http.StatusNotModified {
			c.notModified.Add(1)
		}
	}
	return resp, err
}

// fixture is a running idp with a verifier for audience "api-client" that
// shares idp's clock.
type fixture struct {
	env    *servertest.Env
	v      *verifier.Verifier
	count  *counter
	client string // client id, the audience
	secret string
}

// newFixture starts idp, registers a client_credentials client "api-client"
// signing with alg, and builds a verifier through discovery.
func newFixture(t testing.TB, alg string) *fixture {
	t.Helper()
	env := servertest.New(t)
	c, secret := env.CreateClient(t, clients.Spec{
		ID: "api-client", SigningAlg: alg, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"},
	})
	count := &counter{base: http.DefaultTransport}
	v, err := verifier.New(context.Background(), verifier.Config{
		Issuer: env.URL, Audience: c.ID, Now: env.Clock.Now,
		HTTPClient: &http.Client{Transport: count, Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatalf("verifier.New: %v", err)
	}
	if n := count.jwks.Load(); n != 1 {
		t.Fatalf("New fetched the JWKS %d times, want 1", n)
	}
	return &fixture{env: env, v: v, count: count, client: c.ID, secret: secret}
}

// token gets a real access token with the client_credentials grant.
func (f *fixture) token(t testing.TB, scope string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.env.URL+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.client, f.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token endpoint: %d %s %v", resp.StatusCode, body.Error, err)
	}
	return body.AccessToken
}

// claims are valid access-token claims for the fixture, to be edited.
func (f *fixture) claims() map[string]any {
	now := f.env.Clock.Now().Unix()
	return map[string]any{
		"iss": f.env.URL, "sub": f.client, "aud": f.client, "client_id": f.client,
		"exp": now + 600, "iat": now, "jti": "jti-1", "scope": "api", "roles": []string{},
	}
}

// sign signs claims with idp's own active alg key, as idp would.
func (f *fixture) sign(t testing.TB, alg, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.env.Keys.Sign(context.Background(), alg, payload, typ)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// kid returns the kid in a token's header.
func kid(t testing.TB, tok string) string {
	t.Helper()
	h := header(t, tok)
	k, _ := h["kid"].(string)
	return k
}

// header decodes a token's header.
func header(t testing.TB, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// rawJWS assembles a compact JWS from any header, so tests can forge what
// a real signer would refuse to produce; sig signs the signing input.
func rawJWS(t testing.TB, hdr, claims map[string]any, sig func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(hdr) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig([]byte(input)))
}

// rogueKey is an RSA key idp never published: a forger's key.
var rogueKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

// rsaSign signs with an RSA key as RS256 does (RFC 7518 §3.3).
func rsaSign(k *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return s
	}
}

// wantErr fails unless err wraps want and, for every refusal,
// ErrInvalidToken.
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	if !errors.Is(err, verifier.ErrInvalidToken) {
		t.Fatalf("error %v does not match ErrInvalidToken", err)
	}
}
