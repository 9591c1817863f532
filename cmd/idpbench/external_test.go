package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const fakeResource = "https://api.example.invalid"

// fakeProvider is the least of another provider that idpbench's refresh
// and client_credentials scenarios can drive the way bench/side-by-side.sh
// drives node-oidc-provider: RS256 access tokens for a resource (aud is
// not the client), rotated refresh tokens whose reuse revokes the grant
// (no grace window), and a route that mints refresh tokens for set-up.
type fakeProvider struct {
	*httptest.Server
	signer jose.Signer
	jwks   []byte
	cred   Cred

	mu      sync.Mutex
	grantOf map[string]int // live refresh token → grant
	spent   map[string]int // rotated refresh token → grant
	revoked map[int]bool   // grants revoked by a reuse
	minted  int            // grants made by the set-up route
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	p := &fakeProvider{signer: signer, jwks: jwks, cred: Cred{"web", "web-secret"},
		grantOf: map[string]int{}, spent: map[string]int{}, revoked: map[int]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.URL, "token_endpoint": p.URL + "/token",
			"authorization_endpoint": p.URL + "/auth", "userinfo_endpoint": p.URL + "/me", "jwks_uri": p.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(p.jwks) })
	mux.HandleFunc("POST /bench/refresh-token", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != p.cred.ID || secret != p.cred.Secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		p.minted++
		rt := rand.Text()
		p.grantOf[rt] = p.minted
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"refresh_token": rt})
	})
	mux.HandleFunc("POST /token", p.token)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id, _, _ := r.BasicAuth()
	fail := func() {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
	}
	resp := map[string]string{"token_type": "Bearer"}
	sub := id
	switch r.PostFormValue("grant_type") {
	case "client_credentials":
	case "refresh_token":
		old := r.PostFormValue("refresh_token")
		p.mu.Lock()
		g, live := p.grantOf[old]
		if !live {
			if g, spent := p.spent[old]; spent {
				p.revoked[g] = true
			}
			p.mu.Unlock()
			fail()
			return
		}
		delete(p.grantOf, old)
		if p.revoked[g] {
			p.mu.Unlock()
			fail()
			return
		}
		p.spent[old] = g
		next := rand.Text()
		p.grantOf[next] = g
		p.mu.Unlock()
		resp["refresh_token"], sub = next, "user-1"
	default:
		fail()
		return
	}
	claims, _ := json.Marshal(map[string]any{"iss": p.URL, "sub": sub, "aud": fakeResource, "client_id": id,
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(), "scope": "api:read"})
	jws, err := p.signer.Sign(claims)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	resp["access_token"], _ = jws.CompactSerialize()
	_ = json.NewEncoder(w).Encode(resp)
}

// TestOtherProvider drives a provider idpbench cannot sign in to: refresh
// chains from --refresh-token-url, access tokens verified against its
// JWKS with its own audience, its CPU time from /proc (here this very
// process), and the reuse check with no grace window.
func TestOtherProvider(t *testing.T) {
	p := newFakeProvider(t)
	cfg := Config{Issuer: p.URL, Scenarios: []string{"client_credentials", "refresh"}, Concurrency: 3,
		Duration: 300 * time.Millisecond, Client: p.cred, CCClients: []Cred{{"cc", "cc-secret"}},
		RefreshTokenURL: p.URL + "/bench/refresh-token", AccessAudience: fakeResource,
		ServerPID: os.Getpid(), VerifySample: 1, SetupConc: 3, Timeout: 5 * time.Second,
		Sleep: func(time.Duration) { t.Error("no grace window: nothing to wait for") }}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg.Out = &out
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors:\n%s", out.String())
	}
	for _, r := range rep.Results {
		if r.Ops == 0 || r.Verified == 0 || r.Alg != "RS256" {
			t.Errorf("%s: %d ops, %d verified, alg %q", r.Name, r.Ops, r.Verified, r.Alg)
		}
		if r.Usage == nil || !r.Usage.HasServer || r.Usage.ServerCPUPerOp <= 0 {
			t.Errorf("%s: no server CPU time from /proc: %+v", r.Name, r.Usage)
		}
	}
	rc := rep.Results[1].Reuse
	if rc == nil || rc.Chains != 3 || rc.Intact != 3 || rc.ReplayedInGrace != 0 {
		t.Errorf("reuse check %+v", rc)
	}
	if p.minted != 3 {
		t.Errorf("set-up minted %d chains, want one per worker (3)", p.minted)
	}

	// Without the audience the same tokens are refused: aud is checked.
	cfg.AccessAudience, cfg.Scenarios = "", []string{"client_credentials"}
	out.Reset()
	if rep, err := Run(context.Background(), cfg); err != nil || rep.OK() || rep.Results[0].ErrorKinds["verify"] == 0 {
		t.Errorf("tokens for another audience passed: %v\n%s", err, out.String())
	}
}

func TestOtherProviderFlags(t *testing.T) {
	base := []string{"--issuer", "http://127.0.0.1:9", "--client-secret", "s"}
	cases := []struct {
		name string
		args []string
		bad  string // "" when valid
	}{
		{"refresh from a URL needs no password", []string{"--scenario", "refresh", "--refresh-token-url", "http://127.0.0.1:9/mint"}, ""},
		{"refresh by sign-in needs a password", []string{"--scenario", "refresh"}, "--password"},
		{"code still signs in", []string{"--scenario", "code", "--refresh-token-url", "http://127.0.0.1:9/mint"}, "--password"},
		{"the URL stays on the issuer's origin", []string{"--scenario", "refresh", "--refresh-token-url", "http://127.0.0.1:10/mint"}, "origin"},
		{"negative pid", []string{"--scenario", "jwks", "--server-pid", "-1"}, "--server-pid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(append(append([]string{}, base...), tc.args...), io.Discard)
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
				t.Fatalf("want an error about %q, got %v", tc.bad, err)
			case tc.bad == "" && cfg.RefreshTokenURL == "":
				t.Fatal("--refresh-token-url not kept")
			}
		})
	}
	// With no refresh scenario, the browser client's secret is not needed.
	if _, err := parseFlags([]string{"--scenario", "client_credentials", "--cc-client", "a:b"}, io.Discard); err != nil {
		t.Errorf("client_credentials alone: %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 123 456 789"
	if got, ok := parseProcStat(line); !ok || got != 3.25 {
		t.Errorf("parseProcStat = %v, %v; want 3.25 s", got, ok)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 x 1"} {
		if _, ok := parseProcStat(bad); ok {
			t.Errorf("parseProcStat(%q) accepted", bad)
		}
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, ok := procCPU(os.Getpid()); !ok {
		t.Error("procCPU of this process failed")
	}
	if _, ok := procCPU(-1); ok {
		t.Error("procCPU of no process succeeded")
	}
}
