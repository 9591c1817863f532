package verifier_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"idp/verifier"
)

// TestRotation follows the key lifecycle as a relying service sees it.
func TestRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	old := f.token(t, "api")

	// A scheduled-style rotation: the next key the verifier fetched at
	// start-up becomes active. The cache is stale by now (6m > max-age
	// 5m), so the verifier revalidates once, and both the new key's token
	// and the retired key's token verify.
	f.env.Clock.Advance(6 * time.Minute)
	rotate(t, f)
	fresh := f.token(t, "api")
	if kid(t, fresh) == kid(t, old) {
		t.Fatal("rotation did not change the signing key")
	}
	for _, tok := range []string{fresh, old} {
		if _, err := f.v.VerifyAccessToken(ctx, tok); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
	if n := f.count.jwks.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2 (New, one revalidation)", n)
	}

	// Rotating again at once promotes the next key published at the first
	// rotation, which the verifier has already seen: the point of
	// publishing next keys early. No fetch.
	rotate(t, f)
	if _, err := f.v.VerifyAccessToken(ctx, f.token(t, "api")); err != nil {
		t.Fatalf("after the second rotation: %v", err)
	}
	if n := f.count.jwks.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want still 2", n)
	}

	// A third forced rotation activates a key created after the
	// verifier's last fetch: its kid is unknown, the verifier refetches
	// once the rate limit allows, and the token verifies.
	rotate(t, f)
	f.env.Clock.Advance(verifier.DefaultMinRefetchInterval)
	if _, err := f.v.VerifyAccessToken(ctx, f.token(t, "api")); err != nil {
		t.Fatalf("token of a key unknown to the cache: %v", err)
	}
	if n := f.count.jwks.Load(); n != 3 {
		t.Fatalf("%d JWKS fetches, want 3", n)
	}
}

func rotate(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.env.Keys.Rotate(context.Background(), "RS256", true); err != nil {
		t.Fatal(err)
	}
}

// TestRevocation: a revoked key leaves idp's JWKS at once, but a verifier
// holding a fresh cache knows its kid and does not refetch for a known kid.
// The revocation reaches it when the cached set goes stale (at most max-age,
// 5 minutes here) and the refetched set lacks the key.
func TestRevocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	tok := f.token(t, "api")
	if _, err := f.env.Keys.Revoke(ctx, kid(t, tok)); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(6 * time.Second) // past idp's own key cache TTL
	if _, err := f.v.VerifyAccessToken(ctx, tok); err != nil {
		t.Fatalf("within max-age the cached key still verifies (documented window): %v", err)
	}

	f.env.Clock.Advance(5 * time.Minute) // the verifier's cache is now stale
	_, err := f.v.VerifyAccessToken(ctx, tok)
	wantErr(t, err, verifier.ErrUnknownKey)
	// The replacement key idp put in place works, with no further fetch.
	if _, err := f.v.VerifyAccessToken(ctx, f.token(t, "api")); err != nil {
		t.Fatalf("replacement key: %v", err)
	}
	if n := f.count.jwks.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
}

// TestSingleFlight: 50 concurrent verifications of tokens whose kid the
// cache lacks cause exactly one JWKS fetch, whether the fetch brings the
// key (a forced rotation) or not (a forged kid).
func TestSingleFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "ES256")
	ctx := context.Background()
	for range 2 {
		if _, err := f.env.Keys.Rotate(ctx, "ES256", true); err != nil {
			t.Fatal(err)
		}
	}
	real := f.token(t, "api") // signed by a key created after New's fetch
	forged := rawJWS(t, map[string]any{"alg": "RS256", "kid": "rogue", "typ": "at+jwt"}, f.claims(), rsaSign(rogueKey))

	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{{"key that exists", real, nil}, {"forged kid", forged, verifier.ErrUnknownKey}} {
		t.Run(tc.name, func(t *testing.T) {
			f.env.Clock.Advance(verifier.DefaultMinRefetchInterval) // let one refetch through
			before := f.count.jwks.Load()
			var wg sync.WaitGroup
			errs := make([]error, 50)
			for i := range errs {
				wg.Go(func() { _, errs[i] = f.v.VerifyAccessToken(ctx, tc.tok) })
			}
			wg.Wait()
			for _, err := range errs {
				if tc.want == nil && err != nil {
					t.Fatalf("verify: %v", err)
				}
				if tc.want != nil {
					wantErr(t, err, tc.want)
				}
			}
			if n := f.count.jwks.Load() - before; n != 1 {
				t.Fatalf("%d JWKS fetches for 50 concurrent verifications, want 1", n)
			}
		})
	}
}

// TestUnknownKidRateLimit: a flood of forged kids costs at most one JWKS
// fetch per MinRefetchInterval.
func TestUnknownKidRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	forged := make([]string, 100)
	for i := range forged {
		forged[i] = rawJWS(t, map[string]any{"alg": "RS256", "kid": fmt.Sprint("forged-", i), "typ": "at+jwt"},
			f.claims(), rsaSign(rogueKey))
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, tok := range forged {
			wg.Go(func() {
				_, err := f.v.VerifyAccessToken(ctx, tok)
				wantErr(t, err, verifier.ErrUnknownKey)
			})
		}
		wg.Wait()
	}
	steps := []struct {
		advance time.Duration
		fetches int64 // total, New's included
	}{
		{0, 1},                // New fetched just now
		{9 * time.Second, 1},  // still within the interval
		{1 * time.Second, 2},  // 10 s since New: one fetch
		{5 * time.Second, 2},  // 5 s since that
		{10 * time.Second, 3}, // one more
	}
	for i, s := range steps {
		f.env.Clock.Advance(s.advance)
		flood()
		if n := f.count.jwks.Load(); n != s.fetches {
			t.Fatalf("step %d: %d fetches, want %d", i, n, s.fetches)
		}
	}
}

// TestRevalidation304: a stale cache is revalidated with If-None-Match;
// idp answers 304 while its key set is unchanged, and the verifier keeps
// its keys, fresh for another max-age.
func TestRevalidation304(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	tok := f.token(t, "api")
	f.env.Clock.Advance(5*time.Minute + time.Second)
	if _, err := f.v.VerifyAccessToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(4 * time.Minute)
	if _, err := f.v.VerifyAccessToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	f.count.mu.Lock()
	defer f.count.mu.Unlock()
	if f.count.jwks.Load() != 2 || f.count.notModified.Load() != 1 {
		t.Fatalf("%d fetches, %d answered 304; want 2 and 1", f.count.jwks.Load(), f.count.notModified.Load())
	}
	if f.count.ifNoneMatch[0] != "" || f.count.ifNoneMatch[1] != f.count.etags[0] || f.count.etags[0] == "" {
		t.Fatalf("If-None-Match %q, ETags %q", f.count.ifNoneMatch, f.count.etags)
	}
}
