package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// tokenKind says which rules a sampled token must pass.
type tokenKind int

const (
	accessToken tokenKind = iota // RFC 9068: typ at+jwt, client_id
	idToken                      // OIDC Core §2: never typ at+jwt
)

// verifier checks sampled tokens as a relying service would: against the
// JWKS fetched once (refetched only for a kid it has not seen), with the
// algorithm of the key, never the one the token names.
type verifier struct {
	issuer string
	now    func() time.Time
	fetch  func() ([]byte, error) // nil: never refetch
	// audience is the aud access tokens must carry; empty means the
	// client id (idp's default; another provider may name a resource).
	audience string

	mu   sync.RWMutex
	keys map[string]jose.JSONWebKey
	miss map[string]bool // kids already refetched for
}

// newVerifier builds a verifier from JWKS bytes.
func newVerifier(issuer string, jwks []byte, fetch func() ([]byte, error)) (*verifier, error) {
	v := &verifier{issuer: issuer, now: time.Now, fetch: fetch, miss: map[string]bool{}}
	if err := v.load(jwks); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *verifier) load(jwks []byte) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return fmt.Errorf("parse JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("JWKS has no keys")
	}
	keys := map[string]jose.JSONWebKey{}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Algorithm == "" || !k.IsPublic() {
			return fmt.Errorf("JWKS key %q lacks kid or alg, or is not a public key", k.KeyID)
		}
		keys[k.KeyID] = k
	}
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
	return nil
}

// key returns the key named kid, refetching the JWKS once per unknown kid.
func (v *verifier) key(kid string) (jose.JSONWebKey, bool) {
	v.mu.RLock()
	k, ok := v.keys[kid]
	v.mu.RUnlock()
	if ok || v.fetch == nil {
		return k, ok
	}
	v.mu.Lock()
	tried := v.miss[kid]
	v.miss[kid] = true
	v.mu.Unlock()
	if !tried {
		if b, err := v.fetch(); err == nil && v.load(b) == nil {
			v.mu.RLock()
			k, ok = v.keys[kid]
			v.mu.RUnlock()
		}
	}
	return k, ok
}

// claims are the fields verify checks or hands back.
type claims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Nonce    string `json:"nonce"`
	Scope    string `json:"scope"`
}

// verify checks raw's signature with the key its kid names (whose alg
// must be the header's), then typ, iss, aud, exp and, for access tokens,
// client_id; for ID tokens with a non-empty nonce, the nonce. Any failure
// is a "verify" failure.
func (v *verifier) verify(raw string, kind tokenKind, clientID, nonce string) (*claims, error) {
	bad := func(format string, args ...any) (*claims, error) {
		return nil, &failure{Kind: "verify", Detail: fmt.Sprintf(format, args...)}
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return bad("parse: %v", err)
	}
	if len(tok.Headers) != 1 {
		return bad("%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	if h.KeyID == "" {
		return bad("no kid in header")
	}
	key, ok := v.key(h.KeyID)
	if !ok {
		return bad("kid %s is not in the JWKS", h.KeyID)
	}
	if key.Algorithm != h.Algorithm {
		return bad("header alg %s but key %s is %s", h.Algorithm, h.KeyID, key.Algorithm)
	}
	var c claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return bad("signature: %v", err)
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	aud := clientID
	if kind == accessToken && v.audience != "" {
		aud = v.audience
	}
	switch {
	case kind == accessToken && typ != "at+jwt":
		return bad("access token typ %q, want at+jwt", typ)
	case kind == idToken && typ == "at+jwt":
		return bad("ID token has typ at+jwt")
	case c.Issuer != v.issuer:
		return bad("iss %q, want %q", c.Issuer, v.issuer)
	case !slices.Contains(c.Audience, aud):
		return bad("aud %v lacks %s", c.Audience, aud)
	case c.Expiry == nil || !c.Expiry.Time().After(v.now()):
		return bad("expired or no exp")
	case c.Subject == "":
		return bad("no sub")
	case kind == accessToken && c.ClientID != clientID:
		return bad("client_id %q, want %q", c.ClientID, clientID)
	case kind == idToken && nonce != "" && c.Nonce != nonce:
		return bad("nonce mismatch")
	}
	return &c, nil
}

// headerAlg returns the alg a compact JWS names, or "".
func headerAlg(raw string) string {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) == 0 {
		return ""
	}
	return tok.Headers[0].Algorithm
}
