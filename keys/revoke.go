package keys

import (
	"context"
	"errors"
	"fmt"

	"idp/db"
)

// Revoke withdraws a key in an emergency (say, its private part leaked): it
// leaves the JWKS at once, tokens it signed stop verifying, and its private
// part is destroyed. This process sees it immediately, other processes
// within CacheTTL. Revoking the active key puts a freshly generated key in
// its place at once, not the published next key: a leak of one private key
// is most likely a leak of the master key or the database, which exposed
// the next key too. Revoking the next key publishes a fresh next key. An
// unknown kid is db.ErrNotFound; a revoked one is ErrAlreadyRevoked.
func (m *Manager) Revoke(ctx context.Context, kid string) (*Key, error) {
	r, err := m.store.find(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("revoke: %w", err)
	}
	if r.State == StateRevoked {
		return nil, fmt.Errorf("revoke key %s: %w", kid, ErrAlreadyRevoked)
	}
	var repl *generated
	if r.State == StateActive || r.State == StateNext {
		if repl, err = generate(m.seal, r.Alg, m.now()); err != nil {
			return nil, fmt.Errorf("revoke key %s: %w", kid, err)
		}
	}
	now := m.now()
	c := change{State: StateRevoked, NotAfter: &now, DestroyPrivate: true}
	if r.NotAfter != nil && r.NotAfter.Before(now) {
		c.NotAfter = r.NotAfter // already unpublished earlier; keep that time
	}
	if r.State == StateActive {
		c.RetiredAt = &now
	}
	if repl != nil {
		// An active key's replacement signs at once: the emergency outweighs
		// relying services that have not fetched it yet.
		repl.row.State, repl.row.CreatedAt, repl.row.SignsFrom = r.State, now, &now
		if r.State == StateActive {
			repl.row.ActivatedAt = &now
		}
	}
	err = m.store.tx(ctx, func(ctx context.Context) error {
		if err := m.store.lock(ctx); err != nil {
			return err
		}
		if repl != nil && repl.row.State == StateNext {
			sc, err := m.scheduleAt(ctx, now)
			if err != nil {
				return err
			}
			repl.row.SignsFrom = &sc.signsFrom
		}
		if err := m.store.transition(ctx, kid, r.State, c); err != nil {
			return err
		}
		if repl != nil {
			return m.store.insert(ctx, &repl.row)
		}
		return nil
	})
	m.invalidate()
	if errors.Is(err, db.ErrConflict) {
		return nil, fmt.Errorf("revoke key %s: changed concurrently, list the keys and retry: %w", kid, err)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", kid, err)
	}
	attrs := []any{"kid", kid, "alg", r.Alg, "was", r.State}
	if repl != nil {
		attrs = append(attrs, "replacement", repl.row.KID)
	}
	m.log.Warn("signing key revoked", attrs...)
	detail := "alg=" + r.Alg + " was=" + r.State
	if repl != nil {
		detail += " replacement=" + repl.row.KID
	}
	m.event(ctx, "key.revoked", kid, detail)
	k := r.key()
	k.State, k.NotAfter, k.HasPrivate = StateRevoked, c.NotAfter, false
	if c.RetiredAt != nil {
		k.RetiredAt = c.RetiredAt
	}
	return &k, nil
}
