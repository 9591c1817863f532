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

// TooEarlyError refuses a rotation whose next key's stored signing time
// (signs_from) has not come yet: a relying service may still hold a JWKS
// fetched before the key appeared, and would reject every token it signs.
type TooEarlyError struct {
	// Alg is the algorithm whose rotation was refused.
	Alg string
	// KID is the next key that would have been promoted.
	KID string
	// PublishedAt is when the next key was created and published.
	PublishedAt time.Time
	// SafeAt is the earliest time the rotation is allowed without force:
	// the next key's signs_from.
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
// a fresh next key. Unless force, it is refused with *TooEarlyError before
// the next key's stored signs_from. The retired key stays published until
// the latest expiry of the tokens it signed (its signed_until) plus the
// clock-skew margin; the fresh next key's signs_from follows the JWKS
// max-age of every serving process (scheduleFrom). A concurrent rotation of
// the same alg makes it fail with ErrAlreadyRotated.
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
	if err := tooEarly(alg, next, m.now(), force); err != nil {
		return nil, err
	}
	f, err := generate(m.seal, alg, m.now())
	if err != nil {
		return nil, fmt.Errorf("rotate %s: %w", alg, err)
	}
	if m.beforeRotateTx != nil {
		m.beforeRotateTx()
	}
	now := m.now()
	rot := &Rotation{}
	err = m.store.tx(ctx, func(ctx context.Context) error {
		if err := m.store.lock(ctx); err != nil {
			return err
		}
		// Re-read under the lock: a raise of signs_from, or another
		// rotation, may have committed since the read above.
		cur, err := m.store.find(ctx, next.KID)
		if err != nil || cur.State != StateNext {
			return errors.Join(err, db.ErrConflict)
		}
		if err := tooEarly(alg, &cur, now, force); err != nil {
			return err
		}
		sc, err := m.scheduleAt(ctx, now)
		if err != nil {
			return err
		}
		if active != nil {
			if rot.Retired, err = m.retire(ctx, active, now, sc.skew); err != nil {
				return err
			}
		}
		if err := m.store.transition(ctx, next.KID, StateNext, change{State: StateActive, ActivatedAt: &now}); err != nil {
			return err
		}
		rot.Activated = cur.key()
		rot.Activated.State, rot.Activated.ActivatedAt = StateActive, &now
		f.row.State, f.row.CreatedAt, f.row.SignsFrom = StateNext, now, &sc.signsFrom
		rot.Next = f.row.key()
		return m.store.insert(ctx, &f.row)
	})
	m.invalidate()
	var early *TooEarlyError
	switch {
	case errors.As(err, &early):
		return nil, err
	case errors.Is(err, db.ErrConflict):
		return nil, fmt.Errorf("rotate %s: %w", alg, ErrAlreadyRotated)
	case err != nil:
		return nil, fmt.Errorf("rotate %s: %w", alg, err)
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

// safeAt is when next may sign: its stored signs_from (a row without one is
// judged as just published under the default max-age).
func (r *row) safeAt() time.Time {
	if r.SignsFrom != nil {
		return *r.SignsFrom
	}
	return r.CreatedAt.Add(MaxCacheTTL + DefaultJWKSMaxAge)
}

// tooEarly is the publication rule: unless forced, next may not sign
// before its safeAt.
func tooEarly(alg string, next *row, now time.Time, force bool) error {
	safeAt := next.safeAt()
	if force || !now.Before(safeAt) {
		return nil
	}
	return &TooEarlyError{Alg: alg, KID: next.KID, PublishedAt: next.CreatedAt, SafeAt: safeAt}
}

// retire moves the active key to retired inside a rotation's transaction
// and fixes when it leaves the JWKS: the latest expiry of any token it
// signed, read after the state change so no signer can push it further
// (extend needs the key active), plus skew. Its private part is destroyed:
// a retired key never signs again, and a leak could not expose it.
func (m *Manager) retire(ctx context.Context, active *row, now time.Time, skew time.Duration) (Key, error) {
	if err := m.store.transition(ctx, active.KID, StateActive, change{
		State: StateRetired, RetiredAt: &now, DestroyPrivate: true,
	}); err != nil {
		return Key{}, err
	}
	r, err := m.store.find(ctx, active.KID)
	if err != nil {
		return Key{}, err
	}
	last := now
	if r.SignedUntil != nil {
		last = later(last, *r.SignedUntil)
	}
	notAfter := last.Add(skew)
	if err := m.store.transition(ctx, active.KID, StateRetired, change{State: StateRetired, NotAfter: &notAfter}); err != nil {
		return Key{}, err
	}
	r.NotAfter = &notAfter
	return r.key(), nil
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
			add = append(add, f)
		}
		now := m.now()
		err = m.store.tx(ctx, func(ctx context.Context) error {
			if err := m.store.lock(ctx); err != nil {
				return err
			}
			sc, err := m.scheduleAt(ctx, now)
			if err != nil {
				return err
			}
			if active == nil && next != nil {
				if err := m.store.transition(ctx, next.KID, StateNext, change{State: StateActive, ActivatedAt: &now}); err != nil {
					return err
				}
			}
			for _, f := range add {
				f.row.CreatedAt, f.row.SignsFrom = now, &now
				if f.row.State == StateActive {
					f.row.ActivatedAt = &now // no relying service can hold a JWKS without it yet: none has one
				} else {
					f.row.SignsFrom = &sc.signsFrom
				}
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
			m.log.Info("signing key created", "alg", alg, "kid", f.row.KID, "state", f.row.State,
				"signs_from", f.row.SignsFrom.Format(time.RFC3339))
			m.event(ctx, "key.created", f.row.KID, "alg="+alg+" state="+f.row.State)
		}
		return nil
	}
	return fmt.Errorf("create %s keys: lost the race to concurrent writers three times", alg)
}

// SafeAt returns when rotating alg without force becomes safe: its next
// key's stored signs_from. The admin page and API show it.
func (m *Manager) SafeAt(ctx context.Context, alg string) (time.Time, error) {
	_, next, err := m.store.pair(ctx, alg)
	if err != nil {
		return time.Time{}, fmt.Errorf("safe rotation time of %s: %w", alg, err)
	}
	if next == nil {
		return time.Time{}, fmt.Errorf("safe rotation time of %s: no next key", alg)
	}
	return next.safeAt(), nil
}
