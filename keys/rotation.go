package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"idp/db"
)

// ErrAlreadyRotated means another process (or goroutine) changed the key
// state between our read and our write, so this rotation was not applied.
// The keys did rotate; callers treat it as success-by-someone-else.
var ErrAlreadyRotated = errors.New("already rotated by another process")

// ErrAlreadyRevoked is returned by Revoke for a key that is already revoked.
var ErrAlreadyRevoked = errors.New("key is already revoked")

// TooEarlyError refuses a rotation whose next key has not been published for
// JWKSMaxAge yet: a relying service may still hold a JWKS fetched before the
// key appeared, and would reject every token it signs.
type TooEarlyError struct {
	// Alg is the algorithm whose rotation was refused.
	Alg string
	// PublishedAt is when the next key was created and published.
	PublishedAt time.Time
	// SafeAt is the earliest time the rotation is allowed without force.
	SafeAt time.Time
}

// Error says when to retry, which is what an operator needs.
func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("the next %s key was published at %s; rotating before %s could break "+
		"relying services that cached the JWKS; retry then or force",
		e.Alg, e.PublishedAt.UTC().Format(time.RFC3339), e.SafeAt.UTC().Format(time.RFC3339))
}

// Rotation describes the three keys a rotation touched, as they are after it.
type Rotation struct {
	// Retired is the formerly active key; zero if there was none.
	Retired Key
	// Activated is the former next key, now signing.
	Activated Key
	// Next is the freshly generated key, published but not yet signing.
	Next Key
}

// Rotate makes alg's next key active, retires the active key and publishes
// a fresh next key. Unless force, it is refused with *TooEarlyError while
// the next key has been published for less than JWKSMaxAge. A concurrent
// rotation of the same alg makes it fail with ErrAlreadyRotated.
func (m *Manager) Rotate(ctx context.Context, alg string, force bool) (*Rotation, error) {
	if !knownAlg(alg) {
		return nil, fmt.Errorf("rotate: unknown algorithm %q (want one of %v)", alg, Algs)
	}
	active, next, err := m.store.pair(ctx, alg)
	if err != nil {
		return nil, fmt.Errorf("rotate %s: %w", alg, err)
	}
	if next == nil {
		return nil, fmt.Errorf("rotate %s: no next key to promote (run bootstrap)", alg)
	}
	// Other replicas publish a new next key up to CacheTTL after it is
	// created; relying services may then cache the old JWKS for JWKSMaxAge.
	if safeAt := next.CreatedAt.Add(m.opts.CacheTTL + m.opts.JWKSMaxAge); !force && m.now().Before(safeAt) {
		return nil, &TooEarlyError{Alg: alg, PublishedAt: next.CreatedAt, SafeAt: safeAt}
	}
	f, err := generate(m.seal, alg, m.now())
	if err != nil {
		return nil, fmt.Errorf("rotate %s: %w", alg, err)
	}
	if m.beforeRotateTx != nil {
		m.beforeRotateTx()
	}
	now := m.now()
	// Tokens signed just before now stay valid TokenTTL, and relying
	// services accept them ClockSkew longer: the key must stay published
	// until then.
	notAfter := now.Add(m.opts.TokenTTL + m.opts.ClockSkew)
	f.row.State, f.row.CreatedAt = StateNext, now
	err = m.store.tx(ctx, func(ctx context.Context) error {
		if active != nil {
			// A retired key never signs again, so its private part is
			// destroyed rather than kept where a leak could expose it.
			if err := m.store.transition(ctx, active.KID, StateActive, change{
				State: StateRetired, RetiredAt: &now, NotAfter: &notAfter, DestroyPrivate: true,
			}); err != nil {
				return err
			}
		}
		if err := m.store.transition(ctx, next.KID, StateNext, change{State: StateActive, ActivatedAt: &now}); err != nil {
			return err
		}
		return m.store.insert(ctx, &f.row)
	})
	m.invalidate()
	if errors.Is(err, db.ErrConflict) {
		return nil, fmt.Errorf("rotate %s: %w", alg, ErrAlreadyRotated)
	}
	if err != nil {
		return nil, fmt.Errorf("rotate %s: %w", alg, err)
	}
	rot := &Rotation{Activated: next.key(), Next: f.row.key()}
	rot.Activated.State, rot.Activated.ActivatedAt = StateActive, &now
	if active != nil {
		rot.Retired = active.key()
		rot.Retired.State, rot.Retired.RetiredAt, rot.Retired.NotAfter = StateRetired, &now, &notAfter
		rot.Retired.HasPrivate = false
	}
	m.log.Info("signing key rotated", "alg", alg, "retired", rot.Retired.KID,
		"activated", rot.Activated.KID, "next", rot.Next.KID, "forced", force)
	detail := fmt.Sprintf("alg=%s retired=%s activated=%s next=%s", alg, rot.Retired.KID, rot.Activated.KID, rot.Next.KID)
	if force {
		detail += " forced"
	}
	m.event(ctx, "key.rotated", rot.Activated.KID, detail)
	return rot, nil
}

// Tick does the scheduled key work; cmd calls it every 30 s on every
// replica, tests call it directly after advancing the clock. It recreates a
// missing active or next key and rotates each alg whose active key is older
// than RotationInterval once its next key is old enough. Replicas ticking
// together are fine: all but one get ErrAlreadyRotated, which is not an error.
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
	if m.opts.RotationInterval <= 0 {
		return nil
	}
	active, next, err := m.store.pair(ctx, alg)
	if err != nil || active == nil || next == nil {
		return err
	}
	since := active.CreatedAt
	if active.ActivatedAt != nil {
		since = *active.ActivatedAt
	}
	now := m.now()
	if now.Before(since.Add(m.opts.RotationInterval)) || now.Before(next.CreatedAt.Add(m.opts.CacheTTL+m.opts.JWKSMaxAge)) {
		return nil
	}
	_, err = m.Rotate(ctx, alg, false)
	var early *TooEarlyError
	switch {
	case errors.Is(err, ErrAlreadyRotated):
		m.log.Info("already rotated", "alg", alg)
		return nil
	case errors.As(err, &early):
		// Another replica rotated between our read and Rotate's.
		m.log.Info("already rotated", "alg", alg)
		return nil
	}
	return err
}

// ensure makes sure alg has an active and a next key: on first start, and
// as self-healing if a row was deleted by hand. A missing active key is
// replaced by promoting the next key when there is one, since that key is
// already published; a fresh active key would sign tokens no relying service
// has the key for yet. Keys are generated before the transaction; losing a
// race to another process (a unique index conflict, or a changed row) just
// means re-reading and re-checking.
func (m *Manager) ensure(ctx context.Context, alg string) error {
	for range 3 {
		active, next, err := m.store.pair(ctx, alg)
		if err != nil {
			return err
		}
		if active != nil && next != nil {
			return nil
		}
		var add []*generated
		for _, st := range []string{StateActive, StateNext} {
			if st == StateActive && (active != nil || next != nil) {
				continue // present, or next is promoted below
			}
			f, err := generate(m.seal, alg, m.now())
			if err != nil {
				return err
			}
			f.row.State = st
			if st == StateActive {
				f.row.ActivatedAt = &f.row.CreatedAt
			}
			add = append(add, f)
		}
		now := m.now()
		err = m.store.tx(ctx, func(ctx context.Context) error {
			if active == nil && next != nil {
				if err := m.store.transition(ctx, next.KID, StateNext, change{State: StateActive, ActivatedAt: &now}); err != nil {
					return err
				}
			}
			for _, f := range add {
				if err := m.store.insert(ctx, &f.row); err != nil {
					return err
				}
			}
			return nil
		})
		m.invalidate()
		if errors.Is(err, db.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if active == nil && next != nil {
			m.log.Warn("signing key promoted: the active key was missing", "alg", alg, "kid", next.KID)
		}
		for _, f := range add {
			m.log.Info("signing key created", "alg", alg, "kid", f.row.KID, "state", f.row.State)
			m.event(ctx, "key.created", f.row.KID, "alg="+alg+" state="+f.row.State)
		}
		return nil
	}
	return fmt.Errorf("create %s keys: lost the race to concurrent writers three times", alg)
}

// SafeAt returns when rotating alg without force becomes safe: once its
// next key has been published for the cache interval plus the JWKS
// max-age. The admin page uses it to warn before asking to confirm.
func (m *Manager) SafeAt(ctx context.Context, alg string) (time.Time, error) {
	_, next, err := m.store.pair(ctx, alg)
	if err != nil {
		return time.Time{}, fmt.Errorf("safe rotation time of %s: %w", alg, err)
	}
	if next == nil {
		return time.Time{}, fmt.Errorf("safe rotation time of %s: no next key", alg)
	}
	return next.CreatedAt.Add(m.opts.CacheTTL + m.opts.JWKSMaxAge), nil
}
