package clients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/db/dbtest"
)

// TestAssertionRaceAndPurge: of racing uses of one assertion exactly one
// authenticates; once it has expired the purge forgets it.
func TestAssertionRaceAndPurge(t *testing.T) {
	svc, d := newService(t)
	ctx := t.Context()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Use: "sig"}}})
	if _, _, err := svc.Create(ctx, Spec{ID: "svc", GrantTypes: []string{GrantClientCredentials},
		Metadata: Metadata{TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKS: string(set)}}); err != nil {
		t.Fatal(err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k"}}, nil)
	payload, _ := json.Marshal(map[string]any{"iss": "svc", "sub": "svc", "aud": "https://idp.example", "jti": "j1",
		"exp": testNow.Add(time.Minute).Unix()})
	jws, _ := signer.Sign(payload)
	a, _ := jws.CompactSerialize()
	errs := dbtest.Race(8, func(int) error {
		_, err := svc.AuthenticateAssertion(ctx, a, []string{"https://idp.example"})
		return err
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrInvalidClient):
			t.Fatalf("racer: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 racing uses of one assertion authenticated, want 1", won)
	}
	count := func() int64 {
		var n int64
		if err := d.Gorm.Table("client_assertions").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n, err := svc.PurgeAssertions(ctx, 100); err != nil || n != 0 || count() != 1 {
		t.Fatalf("purge before expiry: %d, %v, %d left", n, err, count())
	}
	later := NewService(svc.store, testPepper, func() time.Time { return testNow.Add(2 * time.Hour) })
	if n, err := later.PurgeAssertions(ctx, 100); err != nil || n != 1 || count() != 0 {
		t.Fatalf("purge after expiry: %d, %v, %d left", n, err, count())
	}
}
