package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

const (
	benchUser     = "bench@example.com"
	benchPassword = "load password 1234"
	benchRedirect = "http://127.0.0.1:1/cb"
)

// benchEnv is an in-process provider prepared as `make bench` prepares a
// real one, and the Config that targets it.
func benchEnv(t *testing.T, opts ...servertest.Option) (*servertest.Env, Config) {
	t.Helper()
	env := servertest.New(t, opts...)
	env.CreateUser(t, benchUser, benchPassword)
	_, web := env.CreateClient(t, clients.Spec{ID: "bench-web", Trusted: true, RedirectURIs: []string{benchRedirect}})
	_, rs := env.CreateClient(t, clients.Spec{ID: "bench-rs", SigningAlg: "RS256",
		GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api:read"}})
	_, es := env.CreateClient(t, clients.Spec{ID: "bench-es", SigningAlg: "ES256",
		GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api:read"}})
	cfg := Config{Issuer: env.URL, Concurrency: 4, Duration: 1500 * time.Millisecond,
		User: benchUser, Password: benchPassword, Client: Cred{"bench-web", web}, RedirectURI: benchRedirect,
		CCClients: []Cred{{"bench-rs", rs}, {"bench-es", es}}, Mix: defaultMix,
		VerifySample: 1, ReuseGrace: 10 * time.Second, SetupConc: 4, Timeout: 10 * time.Second,
		// The test clock stands still: waiting out the grace window is
		// moving it forward.
		Sleep: env.Clock.Advance}
	return env, cfg
}

// TestMixEndToEnd is the issue-7 load in small: the mix against a real
// provider, every token verified, zero errors, and every refresh chain
// still detecting reuse afterwards (replayed in grace first, then refused).
func TestMixEndToEnd(t *testing.T) {
	_, cfg := benchEnv(t)
	cfg.Scenarios = []string{"mix"}
	var out bytes.Buffer
	cfg.Out = &out
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Results[0]
	if !rep.OK() || res.Ops == 0 || res.Verified == 0 {
		t.Fatalf("mix: ok %v, %d ops, %d verified:\n%s", rep.OK(), res.Ops, res.Verified, out.String())
	}
	var chosen int64
	for _, n := range res.OpCounts {
		chosen += n
	}
	if chosen < res.Ops {
		t.Errorf("mix counted %d operations but chose %d", res.Ops, chosen)
	}
	// The test clock stands still, so every chain is still inside its grace
	// window at the check: the replay must return the same token first.
	rc := res.Reuse
	if rc == nil || rc.Chains < 1 || rc.Chains+rc.Skipped != cfg.Concurrency || rc.Intact != rc.Chains ||
		rc.ReplayedInGrace != rc.Chains {
		t.Errorf("reuse check %+v", rc)
	}
}

// TestEveryScenario runs each scenario briefly, with references, against a
// provider with a strict (0s) reuse grace.
func TestEveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario")
	}
	_, cfg := benchEnv(t, func(c *server.Config) { c.RefreshReuseGrace = 0 })
	cfg.Scenarios = scenarioNames
	cfg.Duration, cfg.Concurrency, cfg.Reference, cfg.ReuseGrace = 300*time.Millisecond, 2, true, 0
	// `idpbench bare`, here in a goroutine rather than a process of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	bareDone := make(chan error, 1)
	go func() { bareDone <- serveBareOn(ctx, ln, cfg.Issuer) }()
	defer func() {
		stop()
		if err := <-bareDone; err != nil {
			t.Errorf("bare: %v", err)
		}
	}()
	cfg.BareURL = "http://" + ln.Addr().String()
	cfg.Sleep = func(time.Duration) { t.Error("strict grace: nothing to wait for") }
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
		if strings.HasSuffix(r.Name, ", own process") && (r.Usage == nil || !r.Usage.HasServer) {
			t.Errorf("%s: no CPU time from the bare process's /metrics", r.Name)
		}
	}
	got := map[string]Result{}
	for _, r := range rep.Results {
		got[r.Name] = r
		if r.Ops == 0 {
			t.Errorf("%s made no operations", r.Name)
		}
	}
	if got["client_credentials/bench-rs"].Alg != "RS256" || got["client_credentials/bench-es"].Alg != "ES256" {
		t.Errorf("client_credentials algs: %+v", got)
	}
	if rc := got["refresh"].Reuse; rc == nil || rc.Intact != 2 || rc.ReplayedInGrace != 0 {
		t.Errorf("strict reuse check %+v", rc)
	}
	if len(rep.Ratios) != 9 {
		t.Errorf("want 9 ratios, got %+v", rep.Ratios)
	}
	for _, q := range rep.Ratios {
		if q.Extra != strings.HasSuffix(q.Name, ", own process") {
			t.Errorf("ratio %q: extra %v", q.Name, q.Extra)
		}
		if q.Extra && q.CPU == 0 {
			t.Errorf("ratio %q lacks the bare process's CPU time", q.Name)
		}
	}
	if !strings.Contains(out.String(), "sso / code") {
		t.Errorf("report lacks the ratios:\n%s", out.String())
	}
}
