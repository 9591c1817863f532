package keys

import (
	"context"
	"testing"
	"time"
)

// statsByAlg calls Stats and checks it covers Algs in order.
func statsByAlg(t *testing.T, m *Manager) map[string]AlgStats {
	t.Helper()
	st, err := m.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if len(st) != len(Algs) {
		t.Fatalf("Stats returned %d entries, want %d: %+v", len(st), len(Algs), st)
	}
	out := map[string]AlgStats{}
	for i, s := range st {
		if s.Alg != Algs[i] {
			t.Fatalf("Stats[%d].Alg = %q, want %q (Algs order)", i, s.Alg, Algs[i])
		}
		out[s.Alg] = s
	}
	return out
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()

	keysOf := func() map[[2]string]Key { return byState(mustList(t, m)) }
	check := func(step string, alg string, want AlgStats) {
		t.Helper()
		want.Alg = alg
		if got := statsByAlg(t, m)[alg]; got != want {
			t.Fatalf("%s: Stats[%s] = %+v, want %+v", step, alg, got, want)
		}
	}

	k := keysOf()
	for _, alg := range Algs {
		check("after bootstrap", alg, AlgStats{
			ActiveKID: k[[2]string{alg, StateActive}].KID, NextKID: k[[2]string{alg, StateNext}].KID, Published: 2,
		})
	}

	e.clock.Advance(time.Hour)
	rot, err := m.Rotate(ctx, RS256, false)
	if err != nil {
		t.Fatal(err)
	}
	check("right after the RS256 rotation", RS256, AlgStats{
		ActiveKID: rot.Activated.KID, NextKID: rot.Next.KID, Published: 3, Retired: 1,
	})
	check("ES256 untouched by the RS256 rotation", ES256, AlgStats{
		ActiveKID: k[[2]string{ES256, StateActive}].KID, ActiveAge: time.Hour,
		NextKID: k[[2]string{ES256, StateNext}].KID, NextAge: time.Hour, Published: 2,
	})

	// The retired key counts until its not_after, and not at it.
	stay := rot.Retired.NotAfter.Sub(e.clock.Now())
	e.clock.Advance(stay - time.Second)
	check("just before not_after", RS256, AlgStats{
		ActiveKID: rot.Activated.KID, ActiveAge: stay - time.Second,
		NextKID: rot.Next.KID, NextAge: stay - time.Second, Published: 3, Retired: 1,
	})
	e.clock.Advance(time.Second)
	check("at not_after", RS256, AlgStats{
		ActiveKID: rot.Activated.KID, ActiveAge: stay, NextKID: rot.Next.KID, NextAge: stay, Published: 2,
	})

	// A clock stepped back does not report negative ages.
	e.clock.Advance(-2 * time.Hour)
	if s := statsByAlg(t, m)[RS256]; s.ActiveAge != 0 || s.NextAge != 0 {
		t.Fatalf("ages with the clock before the keys: %+v", s)
	}
}

// TestStatsServedFromCache: Stats of another process sees a rotation only
// when its cache is CacheTTL old, and needs no database while it is fresh.
func TestStatsServedFromCache(t *testing.T) {
	e := newEnv(t)
	cli := e.bootstrapped()
	srv := e.bootstrapped()
	ctx := context.Background()
	before := statsByAlg(t, srv)

	e.clock.Advance(MaxCacheTTL + e.opts.JWKSMaxAge)
	rot, err := cli.Rotate(ctx, ES256, false)
	if err != nil {
		t.Fatal(err)
	}
	// The server's cache was loaded at bootstrap and is stale now: it reloads.
	after := statsByAlg(t, srv)[ES256]
	if after.ActiveKID != rot.Activated.KID || after.NextKID != rot.Next.KID || after.Retired != 1 {
		t.Fatalf("after the rotation: %+v, want active %s next %s", after, rot.Activated.KID, rot.Next.KID)
	}
	if before[ES256].ActiveKID == after.ActiveKID {
		t.Fatal("active kid unchanged")
	}

	// Within CacheTTL a second rotation elsewhere is not seen yet, and the
	// database is not touched.
	if _, err := cli.Rotate(ctx, ES256, true); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL - time.Millisecond)
	if got := statsByAlg(t, srv)[ES256]; got.ActiveKID != after.ActiveKID {
		t.Fatalf("Stats reloaded within CacheTTL: %+v", got)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Stats(ctx); err != nil {
		t.Fatalf("Stats with a fresh cache touched the database: %v", err)
	}
	e.clock.Advance(time.Millisecond)
	if _, err := srv.Stats(ctx); err == nil {
		t.Fatal("Stats succeeded with a stale cache and no database")
	}
}
