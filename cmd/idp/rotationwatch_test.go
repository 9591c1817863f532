package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/db"
)

// The compressed schedule a relying service's CI runs to test itself
// against rotation (key-schedule issue, item 4).
var compressedSchedule = []string{"--key-rotation-interval", "6s", "--jwks-max-age", "2s", "--access-token-ttl", "4s"}

const (
	watchMaxAge = 2 * time.Second
	watchTTL    = 4 * time.Second
	// watchSkew is the margin a retired key stays published past its last
	// token with 4 s tokens (keys.Options.ClockSkew's default).
	watchSkew = 4 * time.Second
	watchFor  = 30 * time.Second
	watchStep = 500 * time.Millisecond
)

// jwksFetch is one JWKS a watching relying party received.
type jwksFetch struct {
	start, end time.Time
	kids       map[string]bool
	set        jose.JSONWebKeySet
}

// watchedToken is one access token it received.
type watchedToken struct {
	start, end time.Time
	alg, kid   string
	exp        time.Time
	raw        string
}

// A relying party watches a provider on the compressed schedule for 30 s:
// every 0.5 s it fetches the JWKS and takes an RS256 and an ES256 token. On
// SQLite one process serves; on PostgreSQL three replicas behind it, each
// request going to the next. What it sees must be what a relying service
// needs: at least two rotations per algorithm; no token signed by a key
// that any JWKS fetched within the max-age before it lacked (so a cache
// honouring Cache-Control never misses it); no key gone from the JWKS
// before its last token expired; and every replaced key gone within
// expiry + skew + 5 s.
func TestRelyingPartyWatchesCompressedRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 30 s of real time")
	}
	parallel(t)
	d := newTestDB(t)
	replicas := 1
	if db.IsPostgres(d.dsn) {
		replicas = 3
	}
	var urls []string
	for range replicas {
		urls = append(urls, startServe(t, d, compressedSchedule...).url)
	}
	secrets := map[string]string{}
	for _, alg := range []string{"RS256", "ES256"} {
		out := mustRun(t, "", d.cmd("clients", "create", "--id", "rp-"+alg, "--redirect-uri", "https://rp.example/cb",
			"--grant-type", "client_credentials", "--signing-alg", alg)...)
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "client_secret: "); ok {
				secrets[alg] = v
			}
		}
		if secrets[alg] == "" {
			t.Fatalf("no secret printed for rp-%s: %s", alg, out)
		}
	}

	var (
		mu      sync.Mutex
		fetches []jwksFetch
		tokens  []watchedToken
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), watchFor)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	every := func(delay time.Duration, fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if delay > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(delay):
				}
			}
			tick := time.NewTicker(watchStep)
			defer tick.Stop()
			for i := 0; ctx.Err() == nil; i++ {
				fn(i)
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		}()
	}
	every(0, func(i int) {
		f, err := fetchJWKS(client, urls[i%len(urls)])
		if err != nil {
			t.Errorf("JWKS: %v", err)
			return
		}
		mu.Lock()
		fetches = append(fetches, f)
		mu.Unlock()
	})
	// Tokens start once the relying party has held a JWKS for a max-age.
	every(watchMaxAge+watchStep, func(i int) {
		for _, alg := range []string{"RS256", "ES256"} {
			tok, err := takeToken(client, urls[(i+1)%len(urls)], "rp-"+alg, secrets[alg])
			if err != nil {
				t.Errorf("token %s: %v", alg, err)
				continue
			}
			tok.alg = alg
			mu.Lock()
			tokens = append(tokens, tok)
			mu.Unlock()
		}
	})
	wg.Wait()
	checkWatch(t, fetches, tokens)
}

// checkWatch judges what the relying party saw.
func checkWatch(t *testing.T, fetches []jwksFetch, tokens []watchedToken) {
	t.Helper()
	if len(fetches) < 40 || len(tokens) < 80 {
		t.Fatalf("only %d JWKS fetches and %d tokens in %v", len(fetches), len(tokens), watchFor)
	}
	kidsByAlg := map[string][]string{}
	lastExp := map[string]time.Time{}
	for _, tok := range tokens {
		if !slices.Contains(kidsByAlg[tok.alg], tok.kid) {
			kidsByAlg[tok.alg] = append(kidsByAlg[tok.alg], tok.kid)
		}
		if tok.exp.After(lastExp[tok.kid]) {
			lastExp[tok.kid] = tok.exp
		}
		var holder *jwksFetch
		for i := range fetches {
			f := &fetches[i]
			// A JWKS without the kid, received before the token arrived and
			// still in a relying party's cache when it was asked for: the
			// relying party would reject the token.
			if !f.kids[tok.kid] && f.end.Add(watchMaxAge).After(tok.start) && !f.end.After(tok.end) {
				t.Errorf("%s token by %s asked for at %s, but a JWKS received at %s (cached until %s) lacks it",
					tok.alg, tok.kid, clockOf(tok.start), clockOf(f.end), clockOf(f.end.Add(watchMaxAge)))
			}
			if f.kids[tok.kid] && !f.start.After(tok.end) {
				holder = f
			}
		}
		if holder == nil {
			t.Errorf("%s token by %s: no JWKS fetched before it holds the key", tok.alg, tok.kid)
			continue
		}
		if err := verifyWith(holder.set, tok.raw); err != nil {
			t.Errorf("%s token by %s does not verify against the JWKS: %v", tok.alg, tok.kid, err)
		}
	}
	for alg, kids := range kidsByAlg {
		if len(kids) < 3 {
			t.Errorf("%s: tokens were signed by %d keys (%v), want at least 3 (two rotations)", alg, len(kids), kids)
		}
		t.Logf("%s: %d signing keys in %v", alg, len(kids), watchFor)
		for i, kid := range kids {
			replaced := i < len(kids)-1
			gone := lastExp[kid].Add(watchSkew + 5*time.Second)
			for _, f := range fetches {
				if !f.kids[kid] && f.start.Before(lastExp[kid]) && f.start.After(firstSeen(fetches, kid)) {
					t.Errorf("%s key %s left the JWKS at %s, before its last token expired at %s",
						alg, kid, clockOf(f.start), clockOf(lastExp[kid]))
				}
				if replaced && f.kids[kid] && f.start.After(gone) {
					t.Errorf("%s key %s still published at %s, past its last token's expiry + skew + 5 s (%s)",
						alg, kid, clockOf(f.start), clockOf(gone))
				}
			}
			if left := leftAt(fetches, kid); replaced && !left.IsZero() {
				t.Logf("%s key %s: last token expired %s, left the JWKS %s (allowed until %s)", alg, kid,
					clockOf(lastExp[kid]), clockOf(left), clockOf(gone))
			}
		}
	}
}

// leftAt is when a JWKS first lacked kid after holding it; zero if never.
func leftAt(fetches []jwksFetch, kid string) time.Time {
	seen := false
	for _, f := range fetches {
		seen = seen || f.kids[kid]
		if seen && !f.kids[kid] {
			return f.start
		}
	}
	return time.Time{}
}

// firstSeen is when kid first appeared in a fetched JWKS.
func firstSeen(fetches []jwksFetch, kid string) time.Time {
	for _, f := range fetches {
		if f.kids[kid] {
			return f.start
		}
	}
	return time.Time{}
}

func clockOf(t time.Time) string { return t.Format("15:04:05.000") }

// fetchJWKS fetches the JWKS of base and checks it is cached for the
// compressed max-age.
func fetchJWKS(c *http.Client, base string) (jwksFetch, error) {
	f := jwksFetch{start: time.Now(), kids: map[string]bool{}}
	resp, err := c.Get(base + "/.well-known/jwks.json")
	if err != nil {
		return f, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	f.end = time.Now()
	if err != nil || resp.StatusCode != http.StatusOK {
		return f, fmt.Errorf("status %d, %v", resp.StatusCode, err)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=2") {
		return f, fmt.Errorf("Cache-Control %q, want max-age=2", cc)
	}
	if err := json.Unmarshal(body, &f.set); err != nil {
		return f, err
	}
	for _, k := range f.set.Keys {
		f.kids[k.KeyID] = true
	}
	return f, nil
}

// takeToken asks base for a client_credentials access token.
func takeToken(c *http.Client, base, id, secret string) (watchedToken, error) {
	tok := watchedToken{start: time.Now()}
	req, _ := http.NewRequest(http.MethodPost, base+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := c.Do(req)
	if err != nil {
		return tok, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	tok.end = time.Now()
	if err != nil || resp.StatusCode != http.StatusOK {
		return tok, fmt.Errorf("status %d, %v", resp.StatusCode, err)
	}
	jws, err := jose.ParseSignedCompact(body.AccessToken, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return tok, err
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return tok, err
	}
	tok.kid, tok.exp, tok.raw = jws.Signatures[0].Header.KeyID, time.Unix(claims.Exp, 0), body.AccessToken
	return tok, nil
}

// verifyWith checks raw's signature with the key of its kid in set.
func verifyWith(set jose.JSONWebKeySet, raw string) error {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return err
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return fmt.Errorf("%d keys with its kid", len(keys))
	}
	_, err = jws.Verify(keys[0])
	return err
}
