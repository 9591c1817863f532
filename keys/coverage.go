package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errNotActive means the key a snapshot offered for signing was retired or
// revoked by another process since the snapshot was loaded.
var errNotActive = errors.New("signing key is no longer active")

// coverage is this process's view of a key's signed_until: every token it
// signs expires no later than until, which is durable in the database
// before the token leaves. It is shared by every snapshot holding the kid.
type coverage struct {
	until atomic.Int64 // Unix nanoseconds; 0: nothing covered
	mu    sync.Mutex   // one writer extends at a time
}

// covers reports whether a token expiring at exp is covered.
func (c *coverage) covers(exp time.Time) bool { return exp.UnixNano() <= c.until.Load() }

// learn raises until to t (from the database or a write), never lowers it.
func (c *coverage) learn(t *time.Time) {
	if t == nil {
		return
	}
	n := t.UnixNano()
	for {
		old := c.until.Load()
		if n <= old || c.until.CompareAndSwap(old, n) {
			return
		}
	}
}

// cover makes sure signed_until of e covers a token signed now, so that a
// key retired later stays published until that token has expired: the
// rule "a retired key leaves the JWKS after the last token it actually
// signed", whatever lifetime the process that retires it is configured
// with. Most calls are one atomic load; one call per chunk writes.
func (m *Manager) cover(ctx context.Context, e *entry, now time.Time) error {
	exp := now.Add(m.opts.TokenTTL)
	c := e.cover
	if c.covers(exp) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.covers(exp) {
		return nil // another goroutine extended it while we waited
	}
	until := exp.Add(m.chunk)
	for range 2 {
		ok, err := m.store.extend(ctx, e.KID, until)
		if err != nil {
			return err
		}
		if ok {
			c.learn(&until)
			return nil
		}
		// Not changed: another process pushed it further, or the key is no
		// longer active.
		r, err := m.store.find(ctx, e.KID)
		if err != nil {
			return err
		}
		if r.State != StateActive {
			return fmt.Errorf("key %s is %s: %w", e.KID, r.State, errNotActive)
		}
		c.learn(r.SignedUntil)
		if c.covers(exp) {
			return nil
		}
	}
	return fmt.Errorf("record signing of key %s: signed_until did not move", e.KID)
}
