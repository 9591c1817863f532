package throttle

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Request limits a request that costs the server work for someone else,
// such as mailing a password-reset link: it counts one request of kind
// for subject (an email address, in any case) and for the client address
// ip, and reports how long the caller must wait, 0 when this request may
// proceed. Up to free requests per window pass in a burst; after that one
// more passes each time the lock runs out, and each doubles the lock,
// from one second up to Lockout, as for failed sign-ins. A refused
// request is not counted, so waiting out the lock is enough. The counters share the sign-in table under their own
// "req:" keys, so neither limit touches the other.
func (t *Throttle) Request(ctx context.Context, kind, subject, ip string, perSubject, perIP int) (time.Duration, error) {
	now := t.cfg.Now().UTC()
	limits := []struct {
		key  string
		free int
	}{
		{"req:" + kind + ":to:" + strings.ToLower(strings.TrimSpace(subject)), perSubject},
		{"req:" + kind + ":ip:" + ip, perIP},
	}
	var wait time.Duration
	for _, l := range limits {
		until, err := t.store.lockedUntil(ctx, l.key)
		if err != nil {
			return 0, fmt.Errorf("throttle check: %w", err)
		}
		wait = max(wait, until.Sub(now))
	}
	if wait > 0 {
		return wait.Round(time.Second), nil
	}
	for _, l := range limits {
		n, err := t.store.fail(ctx, l.key, now, now.Add(-t.cfg.Window))
		if err != nil {
			return 0, fmt.Errorf("throttle count: %w", err)
		}
		if n < l.free {
			continue
		}
		// The free-th request passes and sets the first lock, so at most
		// free go out in a burst.
		d := t.delay(n - l.free + 1)
		if err := t.store.lock(ctx, l.key, now.Add(d)); err != nil {
			return 0, fmt.Errorf("throttle lock: %w", err)
		}
	}
	return 0, nil
}
