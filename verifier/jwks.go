package verifier

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// defaultCacheAge is used when a JWKS response carries no max-age;
	// it is idp's own default (--jwks-max-age).
	defaultCacheAge = 5 * time.Minute
	// maxCacheAge caps max-age, so a mistaken header cannot hide a revoked
	// key from this service for days.
	maxCacheAge = time.Hour
	// minRSABits refuses weak RSA keys (RFC 7518 §3.3 requires 2048).
	minRSABits = 2048
)

// keySet is one fetched JWKS, immutable once built: a refetch builds a new
// one and swaps it in whole, so readers need no lock.
type keySet struct {
	keys    map[string]*jose.JSONWebKey // usable keys by kid
	etag    string                      // validator for If-None-Match
	ttl     time.Duration               // freshness lifetime of the last response
	expires time.Time                   // when the set becomes stale
}

// fresh reports whether s may be used without revalidation at now.
func (s *keySet) fresh(now time.Time) bool { return now.Before(s.expires) }

// parseJWKS decodes a JWK Set (RFC 7517 §5) and keeps the keys this package
// can verify with. Keys it cannot use are skipped rather than failing the
// whole set, as §5 asks, so a future key type at idp breaks nothing here.
func parseJWKS(body []byte) (map[string]*jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("decode JWKS: no keys member")
	}
	out := make(map[string]*jose.JSONWebKey, len(doc.Keys))
	dup := map[string]bool{}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		pub, ok := usable(&k)
		if !ok {
			continue
		}
		if out[pub.KeyID] != nil {
			dup[pub.KeyID] = true
		}
		out[pub.KeyID] = pub
	}
	// Two keys under one kid make the choice ambiguous; trust neither.
	for kid := range dup {
		delete(out, kid)
	}
	return out, nil
}

// usable returns the public part of k with its algorithm settled, or false
// when k cannot verify idp's tokens: no kid, not a signing key, symmetric
// (so HS256 can never be chosen, RFC 8725 §2.1), or an alg that does not fit
// the key type. A key without alg gets the only one its type allows here.
func usable(k *jose.JSONWebKey) (*jose.JSONWebKey, bool) {
	if k.KeyID == "" || (k.Use != "" && k.Use != "sig") {
		return nil, false
	}
	pub := k.Public()
	if !pub.Valid() {
		return nil, false
	}
	ok := false
	switch key := pub.Key.(type) {
	case *rsa.PublicKey:
		if pub.Algorithm == "" {
			pub.Algorithm = string(jose.RS256)
		}
		ok = pub.Algorithm == string(jose.RS256) && key.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		if pub.Algorithm == "" {
			pub.Algorithm = string(jose.ES256)
		}
		ok = pub.Algorithm == string(jose.ES256) && key.Curve == elliptic.P256()
	}
	return &pub, ok
}

// freshness is how long a response may be used (RFC 9111 §4.2.1): its
// max-age less its Age, 0 for no-store or no-cache, fallback without any
// of these; then clamped to [floor, maxCacheAge].
func freshness(h http.Header, fallback, floor time.Duration) time.Duration {
	ttl, found := fallback, false
	for _, d := range strings.Split(strings.Join(h.Values("Cache-Control"), ","), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-store", "no-cache":
			return floor
		case "max-age":
			if n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(val), `"`), 10, 31); err == nil && !found {
				ttl, found = time.Duration(n)*time.Second, true
			}
		}
	}
	// Age is what caches on the way have already used up (RFC 9111 §5.1).
	if a, err := strconv.ParseUint(h.Get("Age"), 10, 31); found && err == nil {
		ttl -= time.Duration(a) * time.Second
	}
	return min(max(ttl, floor), maxCacheAge)
}
