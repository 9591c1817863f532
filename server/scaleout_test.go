package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/keys"
	"idp/server/servertest"
)

// The scale-out tests run three replicas on one database behind a
// round-robin proxy (servertest.NewCluster): on a shared SQLite file by
// default, on one PostgreSQL schema with IDP_TEST_POSTGRES. Nothing may
// depend on which replica a request lands on.

// hopRecorder is a browser transport that notes which instance answered
// each request.
type hopRecorder struct {
	mu   sync.Mutex
	hops []int
}

func (h *hopRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		h.mu.Lock()
		h.hops = append(h.hops, servertest.Instance(resp))
		h.mu.Unlock()
	}
	return resp, err
}

// tokenResponse is the token endpoint's JSON answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// refreshOn posts a refresh_token grant with client (pinned to an
// instance) and returns the status, raw body and answering instance.
func refreshOn(t *testing.T, client *http.Client, app *rp, token string) (int, []byte, int) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	req, _ := http.NewRequest(http.MethodPost, app.conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(app.conf.ClientID), url.QueryEscape(app.conf.ClientSecret))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, servertest.Instance(resp)
}

// jwksOn fetches the JWKS from one instance: body and ETag.
func jwksOn(t *testing.T, c *servertest.Cluster, i int) (string, string) {
	t.Helper()
	resp, err := c.Pinned(i).Get(c.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || servertest.Instance(resp) != i {
		t.Fatalf("JWKS from instance %d: %d from instance %d", i, resp.StatusCode, servertest.Instance(resp))
	}
	return string(b), resp.Header.Get("ETag")
}

// kidOf returns the kid in a JWT's header.
func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	var h struct{ Kid string }
	if err := json.Unmarshal([]byte(decodeSegment(t, strings.SplitN(jwt, ".", 2)[0])), &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// countingTransport counts requests for the JWKS, as a relying party's
// HTTP client would see them.
type countingTransport struct{ jwks *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/jwks.json") {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestScaleOutSignInRefreshRotationReuse(t *testing.T) {
	c := servertest.NewCluster(t, 3)
	in := c.Instances
	ctx := context.Background()
	user := in[1].CreateUser(t, testEmail, testPassword, "staff")
	app := newRP(t, in[2], clients.Spec{ID: "app", Name: "App", SigningAlg: "RS256"}) // consent: more hops
	app.conf.Scopes = append(app.conf.Scopes, "offline_access")

	// Sign-in: every request of the flow lands on another instance than the
	// one before, so the pending request, the CSRF binding, the session and
	// the consent all live in the shared database.
	rec := &hopRecorder{}
	browser := in[0].Browser(t)
	browser.Transport = rec
	v := oauth2.GenerateVerifier()
	loc := in[0].Authorize(t, browser, app.conf.AuthCodeURL("st", oidc.Nonce("n0"), oauth2.S256ChallengeOption(v)), testEmail, testPassword)
	seen := map[int]bool{}
	for i, h := range rec.hops {
		if h < 0 || (i > 0 && h == rec.hops[i-1]) {
			t.Fatalf("sign-in hops %v: each must come from an instance, and not the one before", rec.hops)
		}
		seen[h] = true
	}
	if len(rec.hops) < 4 || len(seen) != 3 {
		t.Fatalf("sign-in hops %v did not spread over the three instances", rec.hops)
	}
	tok, err := app.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange through the proxy: %v", err)
	}

	// A relying party verifying through the proxy; it fetches the JWKS once.
	var fetches atomic.Int32
	rpCtx := oidc.ClientContext(ctx, &http.Client{Transport: countingTransport{&fetches}})
	verifier := oidc.NewVerifier(c.URL, oidc.NewRemoteKeySet(rpCtx, c.URL+"/.well-known/jwks.json"),
		&oidc.Config{ClientID: "app", SupportedSigningAlgs: []string{"RS256"}})
	rawID, _ := tok.Extra("id_token").(string)
	if idt, err := verifier.Verify(ctx, rawID); err != nil || idt.Subject != user.ID {
		t.Fatalf("verify ID token: %v", err)
	}

	// A chain of refreshes, each on the instance after the previous one.
	used := []string{}
	cur, last := tok.RefreshToken, ""
	for i := range 6 {
		status, body, at := refreshOn(t, c.Pinned(i%3), app, cur)
		var r tokenResponse
		if err := json.Unmarshal(body, &r); status != 200 || err != nil || r.RefreshToken == "" || at != i%3 {
			t.Fatalf("refresh %d on instance %d: %d %s (answered by %d)", i, i%3, status, body, at)
		}
		used, cur, last = append(used, cur), r.RefreshToken, string(body)
	}
	// A lost response retried on yet another instance inside the grace
	// window: the same bytes, not a second child.
	if status, body, _ := refreshOn(t, c.Pinned(0), app, used[len(used)-1]); status != 200 || string(body) != last {
		t.Fatalf("retry in grace on another instance: %d, identical=%v", status, string(body) == last)
	}

	rotateThroughOneInstance(t, c, app, cur, verifier, &fetches)

	// Reuse after the grace window, presented to an instance other than the
	// one that redeemed the token, revokes the family on every instance.
	c.Clock.Advance(11 * time.Second)
	if status, body, _ := refreshOn(t, c.Pinned(1), app, used[2]); status != 400 || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("reuse after grace: %d %s", status, body)
	}
	for i := range in {
		if status, body, _ := refreshOn(t, c.Pinned(i), app, cur); status != 400 {
			t.Fatalf("newest token still works on instance %d after reuse: %d %s", i, status, body)
		}
	}
	var r tokenResponse
	_ = json.Unmarshal([]byte(last), &r)
	for i := range in {
		ui, _ := http.NewRequest(http.MethodGet, c.URL+"/userinfo", nil)
		ui.Header.Set("Authorization", "Bearer "+r.AccessToken)
		resp, err := c.Pinned(i).Do(ui)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("access token of the revoked family on instance %d: %d, want 401", i, resp.StatusCode)
		}
	}
	if h := c.Hits(); h[0] == 0 || h[1] == 0 || h[2] == 0 {
		t.Errorf("hits per instance %v", h)
	}
}

// rotateThroughOneInstance rotates RS256 through instance 0 and checks what
// relying parties verifying through the proxy see: within the key cache's
// TTL every instance serves the same JWKS, instance 2 signs with the new
// key, and a relying party's cached JWKS already had it.
func rotateThroughOneInstance(t *testing.T, c *servertest.Cluster, app *rp, refreshToken string,
	verifier *oidc.IDTokenVerifier, fetches *atomic.Int32) {
	t.Helper()
	ctx := context.Background()
	c.Clock.Advance(keys.MaxCacheTTL + time.Second)
	before, etag := jwksOn(t, c, 0)
	for i := 1; i < 3; i++ {
		if b, e := jwksOn(t, c, i); b != before || e != etag {
			t.Fatalf("instances 0 and %d serve different JWKS before the rotation", i)
		}
	}
	rot, err := c.Instances[0].Keys.Rotate(ctx, "RS256", true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, rot.Activated.KID) {
		t.Fatalf("the key now signing (%s) was not published before the rotation", rot.Activated.KID)
	}
	c.Clock.Advance(keys.MaxCacheTTL)
	after, newTag := jwksOn(t, c, 0)
	for i := 1; i < 3; i++ {
		if b, e := jwksOn(t, c, i); b != after || e != newTag {
			t.Fatalf("%s after the rotation: instance %d serves another JWKS than instance 0 (ETag %s, %s)", keys.MaxCacheTTL, i, e, newTag)
		}
	}
	if newTag == etag || !strings.Contains(after, rot.Next.KID) || !strings.Contains(after, rot.Retired.KID) {
		t.Fatalf("JWKS after the rotation lacks the fresh next key or the retired one (ETag %s → %s)", etag, newTag)
	}

	status, body, at := refreshOn(t, c.Pinned(2), app, refreshToken)
	var r tokenResponse
	if err := json.Unmarshal(body, &r); status != 200 || err != nil || at != 2 {
		t.Fatalf("refresh on instance 2: %d %s", status, body)
	}
	if r.AccessToken == "" || r.IDToken == "" {
		t.Fatalf("refresh on instance 2 lacks an access or ID token: %s", body)
	}
	for _, jwt := range []string{r.AccessToken, r.IDToken} {
		if kid := kidOf(t, jwt); kid != rot.Activated.KID {
			t.Fatalf("instance 2 signed with %s, want the new active key %s", kid, rot.Activated.KID)
		}
		// The relying party verifies with the JWKS it cached before the
		// rotation: the new key was already in it, as the next key.
		n := fetches.Load()
		if _, err := verifier.Verify(ctx, jwt); err != nil {
			t.Fatalf("relying party verifying through the proxy: %v", err)
		}
		if fetches.Load() != n {
			t.Errorf("the relying party had to refetch the JWKS for a key published before it signed")
		}
	}
	// A relying party starting now fetches the new set through the proxy.
	fresh := oidc.NewVerifier(c.URL, oidc.NewRemoteKeySet(ctx, c.URL+"/.well-known/jwks.json"),
		&oidc.Config{ClientID: app.conf.ClientID, SupportedSigningAlgs: []string{"RS256"}})
	if _, err := fresh.Verify(ctx, r.AccessToken); err != nil {
		t.Fatalf("fresh relying party: %v", err)
	}
}

// countKeys counts keys by alg and state.
func countKeys(t *testing.T, km *keys.Manager) map[string]int {
	t.Helper()
	list, err := km.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, k := range list {
		n[k.Alg]++
		n[k.Alg+" "+k.State]++
	}
	return n
}

func TestScaleOutReplicasStartAndRotateOnce(t *testing.T) {
	c := servertest.NewCluster(t, 3)
	// Three replicas migrated and bootstrapped the fresh database at the
	// same moment: one active and one next key per algorithm, no more.
	start := countKeys(t, c.Instances[2].Keys)
	for _, alg := range keys.Algs {
		if start[alg] != 2 || start[alg+" active"] != 1 || start[alg+" next"] != 1 {
			t.Fatalf("after three replicas bootstrapped together: %v", start)
		}
	}

	// The scheduled rotation is due; every replica's tick fires at once.
	c.Clock.Advance(c.Instances[0].Config.KeyRotationInterval + time.Minute)
	tickAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(c.Instances))
		for i, e := range c.Instances {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = e.Keys.Tick(context.Background()) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("tick on instance %d: %v", i, err)
			}
		}
	}
	tickAll()
	after := countKeys(t, c.Instances[1].Keys)
	for _, alg := range keys.Algs {
		if after[alg] != start[alg]+1 || after[alg+" active"] != 1 || after[alg+" next"] != 1 || after[alg+" retired"] != 1 {
			t.Errorf("%s: rotated more or less than once: %v", alg, after)
		}
	}
	// Ticking again changes nothing.
	tickAll()
	if again := countKeys(t, c.Instances[0].Keys); len(again) != len(after) || again["RS256"] != after["RS256"] || again["ES256"] != after["ES256"] {
		t.Errorf("a second tick changed the keys: %v → %v", after, again)
	}
}
