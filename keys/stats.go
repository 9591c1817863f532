package keys

import (
	"context"
	"fmt"
	"time"
)

// AlgStats describes one algorithm's keys for metrics and health pages.
type AlgStats struct {
	// Alg is RS256 or ES256.
	Alg string
	// ActiveKID is the key that signs; empty if the alg has none.
	ActiveKID string
	// ActiveAge is how long ActiveKID has been signing (since its
	// activation); compare it with RotationInterval to alert on a
	// rotation that did not happen.
	ActiveAge time.Duration
	// NextKID is the published key that signs after the next rotation;
	// empty if the alg has none.
	NextKID string
	// NextAge is how long NextKID has been published; rotating is safe
	// once it reaches CacheTTL + JWKSMaxAge.
	NextAge time.Duration
	// Published counts the alg's keys in the JWKS right now: next, active
	// and retired keys before their not_after.
	Published int
	// Retired counts the alg's retired keys still in the JWKS, waiting for
	// the tokens they signed to expire. Retired keys past their not_after
	// are history and are not counted.
	Retired int
}

// Stats reports the state of each algorithm's keys, in Algs order. It is
// served from the cached key state (reloaded if older than CacheTTL), like
// Sign and JWKS, so a metrics scrape costs at most one query per CacheTTL.
// Ages are measured on the Manager's clock and never negative.
func (m *Manager) Stats(ctx context.Context) ([]AlgStats, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, fmt.Errorf("key stats: %w", err)
	}
	now := m.now()
	age := func(since time.Time) time.Duration { return max(now.Sub(since), 0) }
	out := make([]AlgStats, len(Algs))
	idx := make(map[string]int, len(Algs))
	for i, alg := range Algs {
		out[i].Alg = alg
		idx[alg] = i
	}
	for _, e := range s.byKID {
		i, ok := idx[e.Alg]
		if !ok {
			continue
		}
		st := &out[i]
		switch e.State {
		case StateActive:
			since := e.CreatedAt
			if e.ActivatedAt != nil {
				since = *e.ActivatedAt
			}
			st.ActiveKID, st.ActiveAge = e.KID, age(since)
		case StateNext:
			st.NextKID, st.NextAge = e.KID, age(e.CreatedAt)
		}
		if e.publishedAt(now) {
			st.Published++
			if e.State == StateRetired {
				st.Retired++
			}
		}
	}
	return out, nil
}
