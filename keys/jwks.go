package keys

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKS is the published key set, ready to serve. Values are shared between
// callers and must not be modified.
type JWKS struct {
	// JSON is {"keys":[...]} (RFC 7517 §5): public members only, each key
	// with kty, kid, alg and use "sig", sorted by kid.
	JSON []byte
	// Gzip is JSON precompressed, for clients sending Accept-Encoding: gzip.
	Gzip []byte
	// ETag is a strong, quoted validator (RFC 9110 §8.8.3) derived from JSON.
	ETag string
}

// jwksCache pairs a built JWKS with the kid set it was built from.
type jwksCache struct {
	snap  *snapshot // the snapshot the set was computed from
	until time.Time // when a published retired key leaves; zero: never
	kids  string
	jwks  *JWKS
}

// JWKS returns the published set: next and active keys, and retired keys
// until their not_after. The bytes are rebuilt only when that set changes,
// and the set is recomputed only when the snapshot changes or a retired key
// reaches its not_after, so the endpoint costs two atomic loads.
func (m *Manager) JWKS(ctx context.Context) (*JWKS, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	c := m.jwks.Load()
	if c != nil && c.snap == s && (c.until.IsZero() || now.Before(c.until)) {
		return c.jwks, nil
	}
	pub := s.published(now)
	kids := make([]string, len(pub))
	var until time.Time
	for i, e := range pub {
		kids[i] = e.KID
		if e.State == StateRetired && (until.IsZero() || e.NotAfter.Before(until)) {
			until = *e.NotAfter
		}
	}
	// A kid is the thumbprint of its key, so the kid list identifies the
	// document exactly.
	set := strings.Join(kids, ",")
	j := (*JWKS)(nil)
	if c != nil && c.kids == set {
		j = c.jwks
	} else if j, err = buildJWKS(pub); err != nil {
		return nil, err
	}
	m.jwks.Store(&jwksCache{snap: s, until: until, kids: set, jwks: j})
	return j, nil
}

// buildJWKS encodes, hashes and compresses the set.
func buildJWKS(pub []*entry) (*JWKS, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(pub))}
	for _, e := range pub {
		// Public() copies only public members: belt and braces on top of
		// parsePublic's check, so no private member can ever be served.
		k := e.public.Public()
		k.KeyID, k.Algorithm, k.Use = e.KID, e.Alg, "sig"
		set.Keys = append(set.Keys, k)
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // valid level: no error
	if _, err := w.Write(body); err != nil {
		return nil, fmt.Errorf("compress JWKS: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress JWKS: %w", err)
	}
	sum := sha256.Sum256(body)
	return &JWKS{
		JSON: body,
		Gzip: gz.Bytes(),
		ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
	}, nil
}
