package dpop

import (
	"context"
	"sync"
	"time"
)

// ReplayCache remembers proofs until they would be stale anyway (RFC 9449
// §11.1). Claim records key until until and reports whether it was new: of
// two requests with one proof, exactly one gets true.
type ReplayCache interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

// DefaultMemorySize bounds a Memory cache when NewMemory is given 0.
const DefaultMemorySize = 100_000

// Memory is a ReplayCache inside one process: right for a relying service
// with one instance, or with sticky routing; a proof replayed to another
// instance is not caught (see docs/dpop.md). When full it refuses new
// proofs (ErrReplay-like false) rather than forget live ones: forgetting
// would reopen the replay window, refusing only makes the client retry.
type Memory struct {
	mu   sync.Mutex
	now  func() time.Time
	max  int
	seen map[string]time.Time
	next time.Time // the earliest time a sweep may drop something
	last time.Time // the last sweep
}

// sweepEvery is the least time between two sweeps of a cache that is not
// full: often enough to keep memory flat, rarely enough to be cheap.
const sweepEvery = 10 * time.Second

// NewMemory returns an in-memory cache of at most max entries (0 means
// DefaultMemorySize); now is its clock (nil: time.Now).
func NewMemory(max int, now func() time.Time) *Memory {
	if max <= 0 {
		max = DefaultMemorySize
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, max: max, seen: map[string]time.Time{}}
}

// Claim records key until until; false if it is already there (a replay)
// or the cache is full of live proofs.
func (m *Memory) Claim(_ context.Context, key string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if exp, ok := m.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(m.seen) >= m.max || now.Sub(m.last) >= sweepEvery {
		m.sweep(now)
	}
	if len(m.seen) >= m.max {
		return false, nil
	}
	m.seen[key] = until
	if m.next.IsZero() || until.Before(m.next) {
		m.next = until
	}
	return true, nil
}

// sweep drops expired entries; it runs only when the cache is full or
// sweepEvery has passed, and something can have expired, so its cost is
// amortised over the claims.
func (m *Memory) sweep(now time.Time) {
	m.last = now
	if now.Before(m.next) {
		return
	}
	m.next = time.Time{}
	for k, exp := range m.seen {
		if !now.Before(exp) {
			delete(m.seen, k)
			continue
		}
		if m.next.IsZero() || exp.Before(m.next) {
			m.next = exp
		}
	}
}

// Len reports how many proofs are remembered, for tests and metrics.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}
