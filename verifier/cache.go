package verifier

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fetchTimeout bounds a refetch. It runs detached from the request that
// started it, since other requests wait for it too and one client hanging
// up must not fail them all.
const fetchTimeout = 30 * time.Second

// keyCache holds the issuer's JWKS. Lookups of a known kid in a fresh set
// take no lock. A stale set is revalidated, and an unknown kid triggers a
// refetch, lazily on the lookup that needs it; in both cases a single fetch
// runs at a time, concurrent lookups wait for it, and fetches start at most
// once per minInterval.
type keyCache struct {
	url         string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration

	set atomic.Pointer[keySet] // never nil after load

	mu        sync.Mutex
	lastFetch time.Time  // start of the latest fetch, for the rate limit
	inflight  *fetchCall // the running fetch, if any
}

// fetchCall is one running fetch; done is closed when it has finished and
// err is then set.
type fetchCall struct {
	done chan struct{}
	err  error
}

// load performs the first fetch, synchronously, for New.
func (c *keyCache) load(ctx context.Context) error {
	c.mu.Lock()
	c.lastFetch = c.now()
	c.mu.Unlock()
	s, err := c.fetch(ctx, nil)
	if err != nil {
		return err
	}
	c.set.Store(s)
	return nil
}

// key returns the published key named kid. When the set is stale, or kid
// is unknown, it waits for a refetch, unless the rate limit forbids one:
// then an unknown kid is ErrUnknownKey at once. If the refetch fails, the
// last good set is used, so an idp outage does not take this service down.
func (c *keyCache) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if s := c.set.Load(); s.fresh(c.now()) && s.keys[kid] != nil {
		return s.keys[kid], nil
	}
	call := c.start()
	if call != nil {
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the JWKS: %w", ctx.Err())
		}
	}
	// Reread: this fetch, or one that finished since the check above, may
	// have brought kid in or taken it out (a revoked key).
	if k := c.set.Load().keys[kid]; k != nil {
		return k, nil
	}
	if call != nil && call.err != nil {
		return nil, fmt.Errorf("%w: kid %q (refreshing the JWKS failed: %v)", ErrUnknownKey, kid, call.err)
	}
	return nil, fmt.Errorf("%w: kid %q is not in the issuer's JWKS", ErrUnknownKey, kid)
}

// start joins the running fetch or starts one, or returns nil when the
// last fetch began less than minInterval ago: kid is chosen by whoever
// presents the token (RFC 8725 §3.10), and forged kids must not turn into
// traffic to the issuer.
func (c *keyCache) start() *fetchCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight
	}
	now := c.now()
	// A clock stepped back (now before lastFetch) does not block fetches.
	if since := now.Sub(c.lastFetch); since >= 0 && since < c.minInterval {
		return nil
	}
	c.lastFetch = now
	call := &fetchCall{done: make(chan struct{})}
	c.inflight = call
	go c.run(call)
	return call
}

// run performs call's fetch and publishes the result.
func (c *keyCache) run(call *fetchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	s, err := c.fetch(ctx, c.set.Load())
	if err == nil {
		c.set.Store(s)
	}
	call.err = err
	c.mu.Lock()
	c.inflight = nil
	c.mu.Unlock()
	close(call.done)
}

// fetch GETs the JWKS. With a previous set it revalidates: If-None-Match
// with the stored ETag, and a 304 keeps the keys with the freshness the 304
// grants (RFC 9110 §13.1.2, RFC 9111 §4.3.4). Keys absent from a new set are
// gone, which is how a revocation reaches this service.
func (c *keyCache) fetch(ctx context.Context, prev *keySet) (*keySet, error) {
	hdr := http.Header{"Accept": {"application/jwk-set+json, application/json"}}
	if prev != nil && prev.etag != "" {
		hdr.Set("If-None-Match", prev.etag)
	}
	resp, body, err := get(ctx, c.client, c.url, hdr)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	now := c.now()
	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil && prev.etag != "":
		ttl := freshness(resp.Header, prev.ttl, c.minInterval)
		return &keySet{keys: prev.keys, etag: prev.etag, ttl: ttl, expires: now.Add(ttl)}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch JWKS: GET %s: status %d", c.url, resp.StatusCode)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS from %s: %w", c.url, err)
	}
	ttl := freshness(resp.Header, defaultCacheAge, c.minInterval)
	return &keySet{keys: keys, etag: resp.Header.Get("ETag"), ttl: ttl, expires: now.Add(ttl)}, nil
}
