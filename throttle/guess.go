package throttle

import (
	"context"
	"fmt"
	"time"
)

// Guesses of short codes other than passwords (the user code of the
// device flow, RFC 8628 §5.1) are throttled per client address under
// their own "guess:" keys, so they neither spend nor share the sign-in
// budget. As for sign-ins only failures count: After are free, then each
// doubles the wait up to Lockout.

func guessKey(kind, ip string) string { return "guess:" + kind + "|" + ip }

// CheckGuess returns how long a guess of kind from ip must wait, 0 if it
// may proceed now.
func (t *Throttle) CheckGuess(ctx context.Context, kind, ip string) (time.Duration, error) {
	until, err := t.store.lockedUntil(ctx, guessKey(kind, ip))
	if err != nil {
		return 0, fmt.Errorf("throttle check: %w", err)
	}
	return max(0, until.Sub(t.cfg.Now().UTC())).Round(time.Second), nil
}

// FailGuess counts a wrong guess of kind from ip and returns the wait it
// now imposes.
func (t *Throttle) FailGuess(ctx context.Context, kind, ip string) (time.Duration, error) {
	now := t.cfg.Now().UTC()
	key := guessKey(kind, ip)
	n, err := t.store.fail(ctx, key, now, now.Add(-t.cfg.Window))
	if err != nil {
		return 0, fmt.Errorf("throttle count: %w", err)
	}
	if n <= t.cfg.After {
		return 0, nil
	}
	d := t.delay(n - t.cfg.After)
	if err := t.store.lock(ctx, key, now.Add(d)); err != nil {
		return 0, fmt.Errorf("throttle lock: %w", err)
	}
	return d, nil
}
