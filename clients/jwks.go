package clients

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// AuthPrivateKeyJWT is RFC 7523 client authentication: a JWT the client
// signs with a key whose public half it registered.
const AuthPrivateKeyJWT = "private_key_jwt"

// AssertionAlgs are the JWS algorithms a client assertion may use; the
// key decides which one verifies, never the token (HS256 and none are
// not among them).
var AssertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// Limits of a client's key set.
const (
	maxJWKSBytes = 16 << 10
	maxJWKSKeys  = 20
	// jwksFetchTimeout bounds one fetch of a jwks_uri; jwksCacheFor is how
	// long a fetched set is used; jwksRefetchAfter how soon an unknown kid
	// may cause another fetch.
	jwksFetchTimeout = 5 * time.Second
	jwksCacheFor     = 5 * time.Minute
	jwksRefetchAfter = 30 * time.Second
)

// ParseJWKS reads a client's JWK Set and checks that it is fit to verify
// assertions: 1 to 20 public signing keys, RSA of 2048 bits or more or EC
// P-256, none private.
func ParseJWKS(raw []byte) ([]jose.JSONWebKey, error) {
	if len(raw) > maxJWKSBytes {
		return nil, fmt.Errorf("the key set is over %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New("the key set is not a JWK Set (RFC 7517 §5)")
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("the key set must hold 1 to %d keys", maxJWKSKeys)
	}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, fmt.Errorf("key %d is not a valid public key", i+1)
		}
		if k.Use != "" && k.Use != "sig" {
			continue // an encryption key: never used here
		}
		switch pk := k.Key.(type) {
		case *rsa.PublicKey:
			if pk.N.BitLen() < 2048 {
				return nil, fmt.Errorf("key %d: RSA keys must have at least 2048 bits", i+1)
			}
		case *ecdsa.PublicKey:
			if pk.Curve != elliptic.P256() {
				return nil, fmt.Errorf("key %d: EC keys must be on P-256", i+1)
			}
		default:
			return nil, fmt.Errorf("key %d: only RSA and EC P-256 keys verify assertions", i+1)
		}
	}
	return set.Keys, nil
}

// keySets gives the verification keys of a client: its inline set, or its
// jwks_uri fetched (timeout, size limit) and cached per URL.
type keySets struct {
	http *http.Client
	now  func() time.Time
	mu   sync.Mutex
	byID map[string]fetchedSet // by jwks_uri
}

type fetchedSet struct {
	keys    []jose.JSONWebKey
	fetched time.Time
}

func newKeySets(now func() time.Time) *keySets {
	return &keySets{now: now, byID: map[string]fetchedSet{},
		http: &http.Client{Timeout: jwksFetchTimeout, CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Scheme != "https" || len(via) >= 3 {
				return errors.New("jwks_uri redirected off https or too often")
			}
			return nil
		}}}
}

// keys returns c's keys that may have signed with kid ("": any).
func (k *keySets) keys(ctx context.Context, c *Client, kid string) ([]jose.JSONWebKey, error) {
	if c.JWKS != "" {
		all, err := ParseJWKS([]byte(c.JWKS))
		if err != nil {
			return nil, err
		}
		return withKID(all, kid), nil
	}
	if c.JWKSURI == "" {
		return nil, errors.New("the client has no keys")
	}
	k.mu.Lock()
	cached, ok := k.byID[c.JWKSURI]
	k.mu.Unlock()
	now := k.now()
	fresh := ok && now.Sub(cached.fetched) < jwksCacheFor
	if fresh {
		if found := withKID(cached.keys, kid); len(found) > 0 || now.Sub(cached.fetched) < jwksRefetchAfter {
			return found, nil
		}
	}
	all, err := k.fetch(ctx, c.JWKSURI)
	if err != nil {
		if ok { // keep verifying with what we had while the URL fails
			return withKID(cached.keys, kid), nil
		}
		return nil, err
	}
	k.mu.Lock()
	k.byID[c.JWKSURI] = fetchedSet{keys: all, fetched: now}
	k.mu.Unlock()
	return withKID(all, kid), nil
}

func (k *keySets) fetch(ctx context.Context, uri string) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := k.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks_uri: status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch jwks_uri: %w", err)
	}
	return ParseJWKS(raw)
}

func withKID(all []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range all {
		if (k.Use == "" || k.Use == "sig") && (kid == "" || k.KeyID == kid) {
			out = append(out, k)
		}
	}
	return out
}

// assertionClaims are the RFC 7523 §3 claims idp reads.
type assertionClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
	Jti string          `json:"jti"`
}

func (c assertionClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

// Bounds of an assertion.
const (
	assertionSkew    = 30 * time.Second
	maxAssertionLife = time.Hour
)

// AuthenticateAssertion checks a client assertion (RFC 7523 §3, OIDC Core
// §9 private_key_jwt and client_secret_jwt) and returns its client: iss
// and sub the client's id, signed by one of its registered keys with an
// algorithm of AssertionAlgs or MACed with its secret with one of
// SecretAssertionAlgs, as its method says,
// aud naming one of audiences (the issuer or the endpoint), exp in the
// future and at most an hour ahead, nbf reached, and a jti never seen
// before for that client (remembered until exp). Anything else is
// ErrInvalidClient, wrapped with the reason for the log.
func (s *Service) AuthenticateAssertion(ctx context.Context, assertion string, audiences []string) (*Client, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidClient, why) }
	if assertion == "" || len(assertion) > 8<<10 || strings.Count(assertion, ".") != 2 {
		return nil, bad("malformed assertion")
	}
	jws, err := jose.ParseSignedCompact(assertion, acceptedAssertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, bad("not a JWS of an accepted algorithm")
	}
	var claims assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return nil, bad("claims are not JSON")
	}
	if claims.Iss == "" || claims.Iss != claims.Sub {
		return nil, bad("iss and sub must both be the client id")
	}
	c, err := s.store.ByID(ctx, claims.Sub)
	if err != nil {
		return nil, bad("unknown client")
	}
	if err := s.verifyAssertion(ctx, c, jws); err != nil {
		return nil, bad(err.Error())
	}
	now := s.now()
	switch {
	case !overlaps(claims.audiences(), audiences):
		return nil, bad("aud names neither the issuer nor this endpoint")
	case claims.Exp == nil:
		return nil, bad("exp is missing")
	case time.Unix(int64(*claims.Exp), 0).Before(now.Add(-assertionSkew)):
		return nil, bad("expired")
	case time.Unix(int64(*claims.Exp), 0).After(now.Add(maxAssertionLife)):
		return nil, bad("exp is more than an hour ahead")
	case claims.Nbf != nil && time.Unix(int64(*claims.Nbf), 0).After(now.Add(assertionSkew)):
		return nil, bad("not valid yet")
	case claims.Jti == "" || len(claims.Jti) > 256:
		return nil, bad("jti is missing or too long")
	}
	fresh, err := s.store.useAssertion(ctx, c.ID, claims.Jti, time.Unix(int64(*claims.Exp), 0).Add(assertionSkew))
	if err != nil {
		return nil, fmt.Errorf("record assertion: %w", err)
	}
	if !fresh {
		return nil, bad("the assertion was used before")
	}
	return c, nil
}

// acceptedAssertionAlgs are every alg an assertion may name; which of them
// a client may use is decided by its registered method.
var acceptedAssertionAlgs = append(append([]jose.SignatureAlgorithm(nil), AssertionAlgs...), SecretAssertionAlgs...)

// verifyAssertion checks the assertion's signature with what c registered:
// its secret for client_secret_jwt (an HMAC alg), its public keys for
// private_key_jwt (an asymmetric alg). The method, not the token's alg,
// decides which key is used; a mismatch is refused before any check.
func (s *Service) verifyAssertion(ctx context.Context, c *Client, jws *jose.JSONWebSignature) error {
	if isSecretAlg(jws.Signatures[0].Header.Algorithm) {
		if !c.AcceptsAuthMethod(AuthSecretJWT) {
			return errors.New("the client does not authenticate with client_secret_jwt")
		}
		key, err := s.openSecret(c)
		if err != nil {
			return err
		}
		if _, err := jws.Verify(key); err != nil {
			return errors.New("the client's secret does not verify the MAC")
		}
		return nil
	}
	if !c.AcceptsAuthMethod(AuthPrivateKeyJWT) {
		return errors.New("the client does not authenticate with private_key_jwt")
	}
	keys, err := s.keys.keys(ctx, c, jws.Signatures[0].Header.KeyID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := jws.Verify(k); err == nil {
			return nil
		}
	}
	return errors.New("no registered key verifies the signature")
}

// PurgeAssertions forgets up to limit used assertions that have expired
// (a replay of one is refused by its exp anyway).
func (s *Service) PurgeAssertions(ctx context.Context, limit int) (int64, error) {
	n, err := s.store.deleteExpiredAssertions(ctx, s.now(), limit)
	if err != nil {
		return n, fmt.Errorf("purge client assertions: %w", err)
	}
	return n, nil
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x != "" && x == y {
				return true
			}
		}
	}
	return false
}
