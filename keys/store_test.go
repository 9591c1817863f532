package keys

import (
	"context"
	"errors"
	"testing"

	"idp/db"
)

// TestUniqueIndexesAreTheLock checks the database side of the concurrency
// design on the dialect under test: a second active or next key for an alg
// is a conflict, and a transition from a state the row has left matches
// nothing.
func TestUniqueIndexesAreTheLock(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	for _, st := range []string{StateActive, StateNext} {
		g, err := generate(m.seal, RS256, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		g.row.State = st
		if err := m.store.insert(ctx, &g.row); !errors.Is(err, db.ErrConflict) {
			t.Fatalf("second %s RS256 key: %v, want db.ErrConflict", st, err)
		}
	}
	act := byState(mustList(t, m))[[2]string{ES256, StateActive}]
	if err := m.store.transition(ctx, act.KID, StateNext, change{State: StateActive}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("transition from a stale state: %v, want db.ErrConflict", err)
	}
}

// TestSignUsesCacheNotDatabase proves the hot path: with the database gone,
// Sign and Verify keep working from the cache until it is CacheTTL old, and
// then fail rather than serve a stale key set indefinitely.
func TestSignUsesCacheNotDatabase(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	// The first token records the key's signed_until, a chunk ahead; the
	// ones after it within that chunk need no write.
	if _, err := m.Sign(ctx, ES256, []byte(`{}`), "JWT"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL / 2)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	tok, err := m.Sign(ctx, ES256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatalf("Sign with a fresh cache touched the database: %v", err)
	}
	if _, _, err := m.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify with a fresh cache: %v", err)
	}
	e.clock.Advance(MaxCacheTTL / 2)
	if _, err := m.Sign(ctx, ES256, []byte(`{}`), "JWT"); err == nil {
		t.Fatal("Sign succeeded with a stale cache and no database")
	}
	if err := m.Ready(ctx); err == nil {
		t.Fatal("Ready succeeded with no database")
	}
}
