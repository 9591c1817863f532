package throttle

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Config sets the limits. Zero values take the defaults.
type Config struct {
	// After is how many failures per account and address are free; each
	// further one doubles the wait, starting at one second (default 5).
	// An address alone gets 4× as many, for credential stuffing across
	// accounts.
	After int
	// Lockout caps the wait (default 15m).
	Lockout time.Duration
	// Window forgets failures older than this (default 1h).
	Window time.Duration
	Now    func() time.Time
}

// Throttle decides whether a sign-in attempt may proceed.
type Throttle struct {
	cfg   Config
	store *Store
}

// New returns a Throttle over store.
func New(store *Store, cfg Config) *Throttle {
	if cfg.After <= 0 {
		cfg.After = 5
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = 15 * time.Minute
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{cfg: cfg, store: store}
}

func accountKey(email, ip string) string {
	return "acct:" + strings.ToLower(strings.TrimSpace(email)) + "|" + ip
}
func addressKey(ip string) string { return "ip:" + ip }

// Check returns how long the attempt must wait, 0 if it may proceed now.
func (t *Throttle) Check(ctx context.Context, email, ip string) (time.Duration, error) {
	now := t.cfg.Now().UTC()
	var wait time.Duration
	for _, key := range []string{accountKey(email, ip), addressKey(ip)} {
		until, err := t.store.lockedUntil(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("throttle check: %w", err)
		}
		if d := until.Sub(now); d > wait {
			wait = d
		}
	}
	return wait.Round(time.Second), nil
}

// Fail counts a failed attempt and returns the wait it now imposes.
func (t *Throttle) Fail(ctx context.Context, email, ip string) (time.Duration, error) {
	now := t.cfg.Now().UTC()
	var wait time.Duration
	for _, k := range []struct {
		key  string
		free int
	}{{accountKey(email, ip), t.cfg.After}, {addressKey(ip), 4 * t.cfg.After}} {
		n, err := t.store.fail(ctx, k.key, now, now.Add(-t.cfg.Window))
		if err != nil {
			return 0, fmt.Errorf("throttle count: %w", err)
		}
		if n <= k.free {
			continue
		}
		d := t.delay(n - k.free)
		if err := t.store.lock(ctx, k.key, now.Add(d)); err != nil {
			return 0, fmt.Errorf("throttle lock: %w", err)
		}
		wait = max(wait, d)
	}
	return wait, nil
}

// delay is 1 s, 2 s, 4 s … for the 1st, 2nd, 3rd failure over the free
// ones, capped at Lockout.
func (t *Throttle) delay(over int) time.Duration {
	if over > 30 {
		return t.cfg.Lockout
	}
	return min(time.Second<<(over-1), t.cfg.Lockout)
}

// Succeed forgets the failures of this account from this address.
func (t *Throttle) Succeed(ctx context.Context, email, ip string) error {
	return t.store.clear(ctx, accountKey(email, ip))
}

// Unlock forgets every failure counted against the account email, from any
// address (an administrator's unlock), and reports how many counters it
// removed. Address-wide counters stay: they limit the address, not the
// account.
func (t *Throttle) Unlock(ctx context.Context, email string) (int64, error) {
	n, err := t.store.clearPrefix(ctx, accountKey(email, ""))
	if err != nil {
		return 0, fmt.Errorf("throttle unlock: %w", err)
	}
	return n, nil
}

// Status is what the throttle holds against one account.
type Status struct {
	// Failures counts the recent failed sign-ins, from every address.
	Failures int
	// LockedUntil is when the longest wait imposed on the account from
	// some address ends; zero when none is in force.
	LockedUntil time.Time
}

// Account reports the failures counted against the account email and
// whether a wait is in force now (from any address), for an administrator
// deciding whether to unlock it. Failures older than the window are not
// counted.
func (t *Throttle) Account(ctx context.Context, email string) (Status, error) {
	rows, err := t.store.prefixed(ctx, accountKey(email, ""))
	if err != nil {
		return Status{}, fmt.Errorf("throttle status: %w", err)
	}
	now := t.cfg.Now().UTC()
	var st Status
	for _, r := range rows {
		if r.LastAt.After(now.Add(-t.cfg.Window)) {
			st.Failures += r.Failures
		}
		if r.LockedUntil != nil && r.LockedUntil.After(now) && r.LockedUntil.After(st.LockedUntil) {
			st.LockedUntil = r.LockedUntil.UTC()
		}
	}
	return st, nil
}

// Purge deletes counters idle for longer than the window.
func (t *Throttle) Purge(ctx context.Context, limit int) (int64, error) {
	return t.store.purge(ctx, t.cfg.Now().UTC().Add(-t.cfg.Window-t.cfg.Lockout), limit)
}
