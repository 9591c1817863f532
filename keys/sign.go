package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey is returned by Verify when the token's kid is not a
// published key: never issued here, revoked, or retired past its not_after.
var ErrUnknownKey = errors.New("token signed by an unknown, revoked or expired key")

// maxHeader bounds the JOSE header Verify decodes before checking anything,
// so a hostile token cannot make it parse megabytes of JSON.
const maxHeader = 4096

// Sign returns payload as a compact JWS (RFC 7515 §7.1) signed by alg's
// active key, with a protected header of alg, kid and, unless empty, typ
// ("JWT" for ID tokens, "at+jwt" for access tokens, RFC 9068 §2.1). The
// token must expire within TokenTTL. It uses the cached key state and
// touches the database only when the cache is older than CacheTTL or the
// key's signed_until must grow (once per chunk of TokenTTL/4, at most 1m).
func (m *Manager) Sign(ctx context.Context, alg string, payload []byte, typ string) (string, error) {
	if !knownAlg(alg) {
		return "", fmt.Errorf("sign: unknown algorithm %q (want one of %v)", alg, Algs)
	}
	ctx, span := tracer.Start(ctx, "sign "+alg, trace.WithAttributes(attribute.String("jws.alg", alg), attribute.String("jws.typ", typ)))
	defer span.End()
	e, err := m.signer(ctx, alg)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	span.SetAttributes(attribute.String("jws.kid", e.KID))
	tok, err := compactSign(alg, e.KID, typ, e.private.Key, payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return tok, nil
}

// signer returns alg's active key with signed_until covering a token
// signed now. A key another process retired since the snapshot was loaded
// is noticed when its coverage has to grow: the snapshot is then reloaded
// once and the new active key used.
func (m *Manager) signer(ctx context.Context, alg string) (*entry, error) {
	for attempt := 0; ; attempt++ {
		s, err := m.current(ctx)
		if err != nil {
			return nil, err
		}
		e := s.active[alg]
		if e == nil || e.private == nil {
			return nil, fmt.Errorf("no active %s key (has Bootstrap run?)", alg)
		}
		err = m.cover(ctx, e, m.now())
		if errors.Is(err, errNotActive) && attempt == 0 {
			m.invalidate()
			continue
		}
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// compactSign builds the compact serialization of a JWS (RFC 7515 §7.1)
// with the protected header {"alg","kid","typ"} directly: go-jose builds a
// signer and marshals the header through reflection on every call, which
// cost as much as an ES256 signature itself. Its verifier checks these
// tokens in the tests, as every relying party does.
func compactSign(alg, kid, typ string, key any, payload []byte) (string, error) {
	if !jsonSafe(kid) || !jsonSafe(typ) {
		return "", errors.New("kid or typ holds characters a header never needs")
	}
	header := `{"alg":"` + alg + `","kid":"` + kid + `"`
	if typ != "" {
		header += `,"typ":"` + typ + `"`
	}
	header += "}"
	enc := base64.RawURLEncoding
	hl, pl := enc.EncodedLen(len(header)), enc.EncodedLen(len(payload))
	buf := make([]byte, hl+1+pl, hl+1+pl+1+enc.EncodedLen(512))
	enc.Encode(buf, []byte(header))
	buf[hl] = '.'
	enc.Encode(buf[hl+1:], payload)
	digest := sha256.Sum256(buf)
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if alg != ES256 || k.Curve != elliptic.P256() {
			return "", fmt.Errorf("a %s key cannot sign %s", k.Curve.Params().Name, alg)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		// JWS wants R and S as fixed 32-byte big-endian halves (RFC 7518 §3.4).
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		if alg != RS256 {
			return "", fmt.Errorf("an RSA key cannot sign %s", alg)
		}
		var err error
		if sig, err = signRS256(k, digest[:]); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unsupported private key %T", key)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// jsonSafe reports whether s can stand inside a JSON string unescaped:
// kids are base64url and typs media-type names.
func jsonSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_+./", c) >= 0) {
			return false
		}
	}
	return true
}

// Verify checks a compact JWS signed by one of the published keys and
// returns its payload and kid. The key is chosen by the header's kid, and
// the algorithm is that key's own: the header's alg is only checked against
// it, never trusted, which rules out "none" and RS256-to-HS256 confusion
// (RFC 8725 §2.1, §3.1). Claims (exp, aud, …) are the caller's business.
func (m *Manager) Verify(ctx context.Context, token string) (payload []byte, kid string, err error) {
	kid, err = headerKID(token)
	if err != nil {
		return nil, "", err
	}
	s, err := m.current(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("verify: %w", err)
	}
	e := s.byKID[kid]
	if e == nil || !e.publishedAt(m.now()) {
		return nil, "", fmt.Errorf("verify: kid %q: %w", kid, ErrUnknownKey)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(e.Alg)})
	if err != nil {
		return nil, "", fmt.Errorf("verify: %w", err)
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID != kid {
		return nil, "", errors.New("verify: malformed JWS header")
	}
	payload, err = jws.Verify(e.public)
	if err != nil {
		return nil, "", fmt.Errorf("verify: %w", err)
	}
	return payload, kid, nil
}

// headerKID reads the kid from a compact JWS header without trusting
// anything else in it.
func headerKID(token string) (string, error) {
	h, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return "", errors.New("verify: not a compact JWS")
	}
	if len(h) > base64.RawURLEncoding.EncodedLen(maxHeader) {
		return "", errors.New("verify: JWS header too large")
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("verify: JWS header: %w", err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return "", fmt.Errorf("verify: JWS header: %w", err)
	}
	if hdr.KID == "" {
		return "", errors.New("verify: JWS header has no kid")
	}
	return hdr.KID, nil
}

// tracer opens the signing spans (a no-op unless tracing is configured).
var tracer = otel.Tracer("idp/keys")
