package verifier

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxTokenSize bounds what is decoded at all; idp's tokens are under 2 KB.
const maxTokenSize = 16 << 10

// algs are the only algorithms idp signs with. Parsing refuses the rest
// before any key is looked up.
var algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// verify checks what both token kinds share, in an order that costs an
// attacker the most and the issuer the least: shape and header first, then
// the key (which may mean a rate-limited fetch), the signature, and only
// then the claims, which mean nothing until the signature holds.
func (v *Verifier) verify(ctx context.Context, raw string, typeOK func(string) bool) (*wireClaims, map[string]any, error) {
	if raw == "" || len(raw) > maxTokenSize || strings.Count(raw, ".") != 2 {
		return nil, nil, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		if alg := unverifiedAlg(raw); alg != "" && !slices.Contains(algs, jose.SignatureAlgorithm(alg)) {
			return nil, nil, fmt.Errorf("%w: alg %q", ErrAlgorithm, alg)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	h := jws.Signatures[0].Protected // compact serialization: exactly one, all protected
	if h.KeyID == "" {
		return nil, nil, fmt.Errorf("%w: no kid in the header", ErrInvalidToken)
	}
	typ, ok := h.ExtraHeaders[jose.HeaderType].(string)
	if _, present := h.ExtraHeaders[jose.HeaderType]; (present && !ok) || !typeOK(typ) {
		return nil, nil, fmt.Errorf("%w: typ %q", ErrTokenType, typ)
	}
	key, err := v.keys.key(ctx, h.KeyID)
	if err != nil {
		return nil, nil, err
	}
	// The key decides the algorithm; the header may only agree with it
	// (RFC 8725 §3.1).
	if h.Algorithm != key.Algorithm {
		return nil, nil, fmt.Errorf("%w: alg %q, but key %q is %s", ErrAlgorithm, h.Algorithm, h.KeyID, key.Algorithm)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: kid %q", ErrSignature, h.KeyID)
	}
	var c wireClaims
	var all map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if err := json.Unmarshal(payload, &all); err != nil {
		return nil, nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if err := v.checkClaims(&c); err != nil {
		return nil, nil, err
	}
	return &c, all, nil
}

// checkClaims checks iss, aud and the times, which both token kinds carry.
func (v *Verifier) checkClaims(c *wireClaims) error {
	now, leeway := v.cfg.Now(), v.cfg.Leeway
	switch {
	case c.ExpiresAt == nil || c.IssuedAt == nil:
		return fmt.Errorf("%w: exp or iat missing", ErrInvalidToken)
	// Issuers are compared as exact strings (OIDC Core §3.1.3.7 step 2).
	case c.Issuer != v.cfg.Issuer:
		return fmt.Errorf("%w: iss %q", ErrIssuer, c.Issuer)
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return fmt.Errorf("%w: aud %q does not contain %q", ErrAudience, []string(c.Audience), v.cfg.Audience)
	// exp: the token must not be accepted on or after it (RFC 7519 §4.1.4).
	case !now.Before(c.ExpiresAt.Add(leeway)):
		return fmt.Errorf("%w: exp %s", ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	case c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time):
		return fmt.Errorf("%w: nbf %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	// A token issued in the future comes from a broken clock or a forger.
	case now.Add(leeway).Before(c.IssuedAt.Time):
		return fmt.Errorf("%w: iat %s", ErrNotYetValid, c.IssuedAt.Format(time.RFC3339))
	}
	return nil
}

// unverifiedAlg reads alg from a token's header, only to tell an
// unacceptable algorithm from a malformed token in the error.
func unverifiedAlg(raw string) string {
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}
