package tokens

import (
	"context"
	"idp/oauth"
	"testing"
	"time"
)

// fill stores n each of pending requests, unused codes, refresh families
// (with a rotated child holding a sealed response) and denylist entries.
func (e *refreshEnv) fill(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		if err := e.s.SaveAuthRequest(ctx, &AuthRequest{ClientID: e.client.ID, RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.IssueCode(ctx, &AuthRequest{ClientID: e.client.ID, RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid"}}, Authn{UserID: e.user.ID, AuthTime: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Refresh(ctx, e.client, e.family(t), "", nil, Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.store.RevokeJTI(ctx, oauth.NewSecret(16), e.clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
}

var purgeTables = []string{"auth_requests", "auth_codes", "refresh_families", "refresh_tokens", "revoked_tokens"}

func (e *refreshEnv) counts(t *testing.T) map[string]int64 {
	t.Helper()
	m := map[string]int64{"sealed": e.count(t, "refresh_tokens", "child_sealed IS NOT NULL")}
	for _, table := range purgeTables {
		m[table] = e.count(t, table, "")
	}
	return m
}

func sameCounts(t *testing.T, step string, got, want map[string]int64) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %v, want %v", step, got, want)
		}
	}
}

// TestPurgeBatchesAndRetention: each Purge call removes at most limit rows
// per kind; codes outlive their expiry by a day (a late replay must still
// be recognised); what has not expired stays.
func TestPurgeBatchesAndRetention(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{RefreshTokenTTL: 48 * time.Hour, ReuseGrace: 10 * time.Second})
	ctx := context.Background()
	e.fill(t, 3)
	sameCounts(t, "filled", e.counts(t), map[string]int64{"auth_requests": 3, "auth_codes": 3,
		"refresh_families": 3, "refresh_tokens": 6, "revoked_tokens": 3, "sealed": 3})

	// Inside every lifetime: nothing goes.
	if n, err := e.s.Purge(ctx, 500); err != nil || n != 0 {
		t.Fatalf("purge removed %d (%v)", n, err)
	}
	// Past the grace window, the denylist and request expiry, and the code
	// expiry but not its retention.
	e.clock.Advance(time.Hour)
	n, err := e.s.Purge(ctx, 2)
	if err != nil || n != 6 {
		t.Fatalf("first batch removed %d (%v), want 2 requests + 2 denylist + 2 sealed", n, err)
	}
	sameCounts(t, "one batch", e.counts(t), map[string]int64{"auth_requests": 1, "auth_codes": 3,
		"refresh_families": 3, "refresh_tokens": 6, "revoked_tokens": 1, "sealed": 1})
	if n, err = e.s.Purge(ctx, 2); err != nil || n != 3 {
		t.Fatalf("second batch removed %d (%v), want 3", n, err)
	}
	sameCounts(t, "two batches", e.counts(t), map[string]int64{"auth_requests": 0, "auth_codes": 3,
		"refresh_families": 3, "refresh_tokens": 6, "revoked_tokens": 0, "sealed": 0})

	// A day past the codes' expiry they go; past the families' lifetime
	// the families go, and their tokens with them.
	e.clock.Advance(48 * time.Hour)
	if n, err = e.s.Purge(ctx, 2); err != nil || n != 4 {
		t.Fatalf("third batch removed %d (%v), want 2 codes + 2 families", n, err)
	}
	sameCounts(t, "three batches", e.counts(t), map[string]int64{"auth_codes": 1, "refresh_families": 1, "refresh_tokens": 2})
	if n, err = e.s.Purge(ctx, 2); err != nil || n != 2 {
		t.Fatalf("fourth batch removed %d (%v), want 2", n, err)
	}
	if n, err = e.s.Purge(ctx, 2); err != nil || n != 0 {
		t.Fatalf("fifth batch removed %d (%v), want 0", n, err)
	}
	for _, table := range purgeTables {
		if c := e.count(t, table, ""); c != 0 {
			t.Errorf("%s keeps %d rows", table, c)
		}
	}
}
