package keys

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Tick does the scheduled key work that is due now; Run calls it on every
// wake-up, tests call it directly after advancing the clock. It recreates a
// missing active or next key and rotates each alg whose rotation is due
// (see due). Replicas ticking together are fine: all but one get
// ErrAlreadyRotated, which is not an error.
func (m *Manager) Tick(ctx context.Context) error {
	var errs []error
	for _, alg := range Algs {
		if err := m.tick(ctx, alg); err != nil {
			errs = append(errs, fmt.Errorf("key tick %s: %w", alg, err))
		}
	}
	return errors.Join(errs...)
}

// tick is Tick for one algorithm.
func (m *Manager) tick(ctx context.Context, alg string) error {
	if err := m.ensure(ctx, alg); err != nil {
		return err
	}
	active, next, err := m.store.pair(ctx, alg)
	if err != nil {
		return err
	}
	at, ok := m.due(active, next)
	if !ok || m.now().Before(at) {
		return nil
	}
	_, err = m.Rotate(ctx, alg, false)
	var early *TooEarlyError
	switch {
	case errors.Is(err, ErrAlreadyRotated), errors.As(err, &early):
		// Another replica rotated between our read and Rotate's, or
		// raised the next key's signing time.
		m.log.Info("already rotated", "alg", alg)
		return nil
	}
	return err
}

// due is when alg's active key is to be replaced: RotationInterval after it
// began signing, but never before the next key's stored signs_from. ok is
// false when scheduled rotation is off or a key is missing.
func (m *Manager) due(active, next *row) (at time.Time, ok bool) {
	if m.opts.RotationInterval <= 0 || active == nil || next == nil {
		return time.Time{}, false
	}
	since := active.CreatedAt
	if active.ActivatedAt != nil {
		since = *active.ActivatedAt
	}
	return later(since.Add(m.opts.RotationInterval), next.safeAt()), true
}

// NextDue returns the next moment the schedule changes something: the
// earliest due rotation of any alg, or a retired key leaving the JWKS.
// Zero if nothing is scheduled.
func (m *Manager) NextDue(ctx context.Context) (time.Time, error) {
	var at time.Time
	first := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	now := m.now()
	for _, alg := range Algs {
		active, next, err := m.store.pair(ctx, alg)
		if err != nil {
			return time.Time{}, err
		}
		if t, ok := m.due(active, next); ok {
			first(t)
		}
	}
	s, err := m.current(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for _, e := range s.byKID {
		if e.State == StateRetired && e.NotAfter != nil && e.NotAfter.After(now) {
			first(*e.NotAfter)
		}
	}
	return at, nil
}

// retryWake is how soon Run looks again at a due moment that has passed
// (its work failed, or another process holds it up), so it never spins.
const retryWake = time.Second

// Step is one wake-up of Run: the due work (Tick), the heartbeat of this
// process's policy, and when to wake next, which it returns (at most
// CacheTTL ahead, so a change made by another process, which this one sees
// within CacheTTL, re-plans the schedule). Tests call it directly after
// advancing the clock.
func (m *Manager) Step(ctx context.Context) (wake time.Time, err error) {
	err = m.Tick(ctx)
	if berr := m.beat(ctx); berr != nil {
		err = errors.Join(err, fmt.Errorf("key schedule heartbeat: %w", berr))
	}
	now := m.now()
	wake = now.Add(m.opts.CacheTTL)
	at, derr := m.NextDue(ctx)
	if derr != nil {
		return wake, errors.Join(err, derr)
	}
	if !at.IsZero() && at.Before(wake) {
		wake = at
		if !at.After(now) {
			wake = now.Add(retryWake)
		}
	}
	return wake, err
}

// Run is the key scheduler of a serving process, on every replica until ctx
// ends: Step, then sleep until the moment it names. Exactly one replica
// rotates per due time: the others find the rotation done
// (ErrAlreadyRotated).
func (m *Manager) Run(ctx context.Context) {
	for {
		wake, err := m.Step(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Error("key schedule", "error", err.Error())
		}
		t := time.NewTimer(wake.Sub(m.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
