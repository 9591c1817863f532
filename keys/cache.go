package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// entry is one live key as a process holds it: its description plus the
// parsed public key and, for active and next keys, the decrypted private
// key. Entries are never modified after a snapshot is published.
type entry struct {
	Key
	public  *jose.JSONWebKey
	private *jose.JSONWebKey
	cover   *coverage // shared by every snapshot of this kid
}

// snapshot is an immutable view of the live keys, replaced as a whole on
// reload so readers need no lock.
type snapshot struct {
	gen      uint64
	loadedAt time.Time
	byKID    map[string]*entry
	active   map[string]*entry // by alg
}

// publishedAt reports whether e belongs in the JWKS at now: next and active
// keys always, retired keys until the last token they signed has expired.
func (e *entry) publishedAt(now time.Time) bool {
	switch e.State {
	case StateNext, StateActive:
		return true
	case StateRetired:
		return e.NotAfter != nil && now.Before(*e.NotAfter)
	}
	return false
}

// published returns the keys in the JWKS at now, sorted by kid so the
// document, and so its ETag, depend only on the set.
func (s *snapshot) published(now time.Time) []*entry {
	var out []*entry
	for _, e := range s.byKID {
		if e.publishedAt(now) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *entry) int { return strings.Compare(a.KID, b.KID) })
	return out
}

// fresh reports whether s may still be served: loaded within CacheTTL (and
// not in the future: a clock stepped back forces a reload) and not
// invalidated since by a change this process made.
func (m *Manager) fresh(s *snapshot, now time.Time) bool {
	if s == nil || s.gen != m.gen.Load() {
		return false
	}
	age := now.Sub(s.loadedAt)
	return age >= 0 && age < m.opts.CacheTTL
}

// invalidate makes the next reader reload, so this process sees its own
// rotation or revocation at once; other processes see it within CacheTTL.
func (m *Manager) invalidate() { m.gen.Add(1) }

// current returns a fresh snapshot, reloading it if needed. Only one
// goroutine reloads at a time; the others wait for it and share its result
// instead of all hitting the database when the TTL expires.
func (m *Manager) current(ctx context.Context) (*snapshot, error) {
	if s := m.snap.Load(); m.fresh(s, m.now()) {
		return s, nil
	}
	select {
	case m.loading <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("load signing keys: %w", ctx.Err())
	}
	defer func() { <-m.loading }()
	if s := m.snap.Load(); m.fresh(s, m.now()) {
		return s, nil
	}
	s, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	m.snap.Store(s)
	return s, nil
}

// load reads the live keys and decrypts the private parts of the active and
// next ones. Keys already parsed by the previous snapshot are reused (a
// kid's key material never changes), so a reload every CacheTTL costs one
// query, not an RSA key validation per key. The generation is read before
// the query: a change made meanwhile leaves this snapshot already stale.
func (m *Manager) load(ctx context.Context) (*snapshot, error) {
	gen, now := m.gen.Load(), m.now()
	rows, err := m.store.live(ctx)
	if err != nil {
		return nil, err
	}
	prev := m.snap.Load()
	s := &snapshot{gen: gen, loadedAt: now, byKID: make(map[string]*entry, len(rows)), active: map[string]*entry{}}
	for i := range rows {
		r := &rows[i]
		var old *entry
		if prev != nil {
			old = prev.byKID[r.KID]
		}
		e, err := m.parse(r, old)
		if err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
		s.byKID[r.KID] = e
		if e.State == StateActive {
			s.active[e.Alg] = e
		}
	}
	return s, nil
}

// parse builds the entry of r, reusing old's parsed keys when present.
func (m *Manager) parse(r *row, old *entry) (*entry, error) {
	e := &entry{Key: r.key(), cover: &coverage{}}
	if old != nil {
		e.public, e.cover = old.public, old.cover
	} else {
		pub, err := parsePublic(r)
		if err != nil {
			return nil, err
		}
		e.public = pub
	}
	e.cover.learn(r.SignedUntil)
	// Retired rows lose their private part in the same update that retires
	// them; checking the state as well means a row left half-edited by hand
	// still never signs.
	if r.PrivateEnc == nil || (r.State != StateActive && r.State != StateNext) {
		return e, nil
	}
	if old != nil && old.private != nil {
		e.private = old.private
		return e, nil
	}
	priv, err := openPrivate(m.seal, r, e.public)
	if err != nil {
		return nil, err
	}
	e.private = priv
	return e, nil
}
