package clients

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"idp/db"
)

// maxCached bounds the clients kept in memory, so that a flood of
// dynamically registered clients cannot grow it without limit; past it
// the cache starts over.
const maxCached = 10_000

// cache keeps the clients read outside transactions, keyed by id, for as
// long as the database's client change counter (client_changes, bumped
// by a trigger on every insert, update and delete of a client, by
// whatever process: migrations/*/00024_client_changes.sql) stays where it
// was when they were read. Each lookup still asks the database for that
// one integer, so a change committed anywhere (another replica, the idp
// CLI, an operator's SQL) is seen by the next request, as the contract
// promises; what it saves is reading and decoding the client's row.
type cache struct {
	mu      sync.Mutex
	version int64 // the counter byID was read under; 0 before any change
	byID    map[string]*Client
	// hits and misses count lookups served from memory and from the
	// row, for tests.
	hits, misses int
}

// changeVersion reads the client change counter; 0 before any change.
func (s *Store) changeVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.QueryRow(ctx, s.gdb, `SELECT COALESCE(MAX(version), 0) FROM client_changes`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("client change counter: %w", db.ScanErr(s.gdb, err))
	}
	return v, nil
}

// cached returns the client id from memory when nothing changed since it
// was read, else reads it and keeps it. The counter is read before the
// row: a change committed in between leaves a newer row under an older
// counter, which the next lookup replaces, never the reverse.
func (s *Store) cached(ctx context.Context, id string) (*Client, error) {
	v, err := s.changeVersion(ctx)
	if err != nil {
		return nil, err
	}
	s.cache.mu.Lock()
	if s.cache.version != v {
		s.cache.version, s.cache.byID = v, nil
	}
	c, ok := s.cache.byID[id]
	if ok {
		s.cache.hits++
	} else {
		s.cache.misses++
	}
	s.cache.mu.Unlock()
	if ok {
		return c.clone(), nil
	}
	c, err = s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cache.mu.Lock()
	if s.cache.version == v {
		if s.cache.byID == nil || len(s.cache.byID) >= maxCached {
			s.cache.byID = make(map[string]*Client)
		}
		s.cache.byID[id] = c.clone()
	}
	s.cache.mu.Unlock()
	return c, nil
}

// clone copies c deeply enough that neither the caller nor the cache can
// change what the other holds.
func (c *Client) clone() *Client {
	d := *c
	d.SecretHash = slices.Clone(c.SecretHash)
	d.SecretSealed = slices.Clone(c.SecretSealed)
	d.RedirectURIs = slices.Clone(c.RedirectURIs)
	d.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	d.GrantTypes = slices.Clone(c.GrantTypes)
	d.Scopes = slices.Clone(c.Scopes)
	d.Contacts = slices.Clone(c.Contacts)
	d.RegistrationTokenHash = slices.Clone(c.RegistrationTokenHash)
	if c.LastUsedAt != nil {
		t := *c.LastUsedAt
		d.LastUsedAt = &t
	}
	return &d
}

// cacheStats reports the lookups served from memory and from the row.
func (s *Store) cacheStats() (hits, misses int) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.cache.hits, s.cache.misses
}
