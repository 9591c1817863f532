package keys

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

// clock is a controllable time source: tests advance it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one database, master key and clock shared by the managers of a
// test, standing in for replicas of one deployment.
type env struct {
	t     testing.TB
	db    *db.DB
	mk    MasterKey
	clock *clock
	opts  Options
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, dbtest.Open(t))
}

func newEnvOn(t testing.TB, d *db.DB) *env {
	t.Helper()
	e := &env{t: t, db: d, mk: randomMaster(t), clock: newClock()}
	e.opts = Options{
		Now:              e.clock.Now,
		TokenTTL:         10 * time.Minute,
		JWKSMaxAge:       5 * time.Minute,
		RotationInterval: 24 * time.Hour,
		Logger:           slog.New(slog.DiscardHandler),
	}
	return e
}

// manager returns a new Manager (a new "process") on the env's database.
func (e *env) manager() *Manager {
	return NewManager(e.db.Gorm, e.mk, e.opts)
}

// bootstrapped returns a Manager after a successful Bootstrap.
func (e *env) bootstrapped() *Manager {
	e.t.Helper()
	m := e.manager()
	if err := m.Bootstrap(context.Background()); err != nil {
		e.t.Fatalf("Bootstrap: %v", err)
	}
	return m
}

func randomMaster(t testing.TB) MasterKey {
	t.Helper()
	var mk MasterKey
	if _, err := rand.Read(mk[:]); err != nil {
		t.Fatal(err)
	}
	return mk
}

// byState indexes a key list by alg and state (revoked and retired keys can
// repeat; the newest wins, as List is newest first and we keep the first).
func byState(ks []Key) map[[2]string]Key {
	out := map[[2]string]Key{}
	for _, k := range ks {
		if _, ok := out[[2]string{k.Alg, k.State}]; !ok {
			out[[2]string{k.Alg, k.State}] = k
		}
	}
	return out
}

func mustList(t testing.TB, m *Manager) []Key {
	t.Helper()
	ks, err := m.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ks
}

// countStates counts keys per state for one alg.
func countStates(ks []Key, alg string) map[string]int {
	out := map[string]int{}
	for _, k := range ks {
		if k.Alg == alg {
			out[k.State]++
		}
	}
	return out
}
