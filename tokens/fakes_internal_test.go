package tokens

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The fakes below serve the tests of this package and of tokens_test: tokens
// declares Signer and Verifier so that it can be tested without keys
// (STYLE.md §1.2).

// FakeClock is a settable clock: tests advance it instead of sleeping.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock starts at a fixed instant far from any real one.
func NewFakeClock() *FakeClock { return &FakeClock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)} }

func (c *FakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *FakeClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// ThrowawayKey signs and verifies with an ES256 key made for one test.
type ThrowawayKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

// NewThrowawayKey makes a fresh P-256 key published under kid.
func NewThrowawayKey(t testing.TB, kid string) *ThrowawayKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &ThrowawayKey{priv: priv, kid: kid}
}

func (k *ThrowawayKey) Sign(_ context.Context, _ string, payload []byte, typ string) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func (k *ThrowawayKey) Verify(_ context.Context, token string) ([]byte, string, error) {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, "", err
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID != k.kid {
		return nil, "", errors.New("unknown kid")
	}
	p, err := jws.Verify(&k.priv.PublicKey)
	return p, k.kid, err
}
