package keys

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

// replicaEnv is an env whose database is opened twice, as two server
// instances would: each replica has its own connection pool.
type replicaEnv struct {
	*env
	handles [2]*db.DB
}

// newReplicaEnv opens dsn twice (migrating once) and builds an env on it.
func newReplicaEnv(t *testing.T, dsn string) *replicaEnv {
	t.Helper()
	var r replicaEnv
	for i := range r.handles {
		d, err := db.Open(context.Background(), dsn, db.Options{})
		if err != nil {
			t.Fatalf("open %s replica %d: %v", dialectOf(dsn), i, err)
		}
		t.Cleanup(func() { _ = d.Close() })
		if err := d.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		r.handles[i] = d
	}
	r.env = newEnvOn(t, r.handles[0])
	return &r
}

// replica returns a Manager on replica i's own pool.
func (r *replicaEnv) replica(i int) *Manager {
	return NewManager(r.handles[i].Gorm, r.mk, r.opts)
}

func dialectOf(dsn string) string {
	if db.IsPostgres(dsn) {
		return "postgres"
	}
	return "sqlite"
}

// eachDialect runs fn on a SQLite file, and on PostgreSQL when
// IDP_TEST_POSTGRES is set (dbtest.DSN then hands out a fresh schema).
func eachDialect(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "idp.db")) })
	t.Run("postgres", func(t *testing.T) {
		dbtest.RequirePostgres(t)
		fn(t, dbtest.DSN(t))
	})
}

// TestReplicasTickRace runs two server instances on one database whose
// scheduled ticks race: after each interval, many Ticks on both replicas at
// once must rotate each alg exactly once, and once CacheTTL has passed both
// replicas serve the same JWKS, byte for byte.
func TestReplicasTickRace(t *testing.T) {
	eachDialect(t, func(t *testing.T, dsn string) {
		r := newReplicaEnv(t, dsn)
		var log eventLog
		r.opts.OnEvent = log.record
		ms := [2]*Manager{r.replica(0), r.replica(1)}
		ctx := context.Background()

		// Both instances start at once on the empty database.
		var wg sync.WaitGroup
		var errs [2]error
		for i, m := range ms {
			wg.Go(func() { errs[i] = m.Bootstrap(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Bootstrap replica %d: %v", i, err)
			}
		}
		if n := len(log.of("key.created")); n != 2*len(Algs) {
			t.Fatalf("%d keys created by two concurrent bootstraps, want %d", n, 2*len(Algs))
		}

		const rounds, perReplica, ticksEach = 2, 2, 5
		for round := 1; round <= rounds; round++ {
			r.clock.Advance(r.opts.RotationInterval + time.Second)
			start := make(chan struct{})
			tickErrs := make(chan error, 2*perReplica*ticksEach)
			for _, m := range ms {
				for range perReplica {
					wg.Go(func() {
						<-start
						for range ticksEach {
							tickErrs <- m.Tick(ctx)
						}
					})
				}
			}
			close(start)
			wg.Wait()
			close(tickErrs)
			for err := range tickErrs {
				if err != nil {
					t.Fatalf("round %d: Tick: %v", round, err)
				}
			}

			rotated := log.of("key.rotated")
			perAlg := map[string]int{}
			for _, ev := range rotated {
				for _, alg := range Algs {
					if bytes.Contains([]byte(ev.detail), []byte("alg="+alg+" ")) {
						perAlg[alg]++
					}
				}
			}
			ks := mustList(t, ms[0])
			for _, alg := range Algs {
				if perAlg[alg] != round {
					t.Fatalf("round %d: %d %s rotations so far, want exactly %d (one per interval): %+v", round, perAlg[alg], alg, round, rotated)
				}
				if c := countStates(ks, alg); c[StateActive] != 1 || c[StateNext] != 1 || c[StateRetired] != round || len(c) != 3 {
					t.Fatalf("round %d: %s states %v", round, alg, c)
				}
			}

			// A replica that lost the race may serve its old view for up
			// to CacheTTL; after that both agree exactly.
			r.clock.Advance(MaxCacheTTL)
			j0, j1 := mustJWKS(t, ms[0]), mustJWKS(t, ms[1])
			if j0.ETag != j1.ETag || !bytes.Equal(j0.JSON, j1.JSON) || !bytes.Equal(j0.Gzip, j1.Gzip) {
				t.Fatalf("round %d: replicas serve different JWKS after CacheTTL:\n%s %s\n%s %s", round, j0.ETag, j0.JSON, j1.ETag, j1.JSON)
			}
			var want []string
			for _, k := range ks {
				if k.State == StateNext || k.State == StateActive || (k.State == StateRetired && k.NotAfter.After(r.clock.Now())) {
					want = append(want, k.KID)
				}
			}
			slices.Sort(want)
			if got := jwksKids(t, j0); !slices.Equal(got, want) {
				t.Fatalf("round %d: JWKS kids %v, want %v", round, got, want)
			}

			// Ticking again within the interval changes nothing.
			for _, m := range ms {
				if err := m.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(log.of("key.rotated")); n != round*len(Algs) {
				t.Fatalf("round %d: a second tick in the same interval rotated (%d rotations)", round, n)
			}
		}
	})
}
