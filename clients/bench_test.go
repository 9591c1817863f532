package clients

import (
	"context"
	"testing"

	"idp/db/dbtest"
)

// BenchmarkByID measures the client lookup every token request makes.
func BenchmarkByID(b *testing.B) {
	s := NewStore(dbtest.Open(b).Gorm)
	ctx := context.Background()
	if err := s.Create(ctx, &Client{ID: "bench", RedirectURIs: []string{"https://a.example/cb"},
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}, SigningAlg: "ES256"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ByID(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is client authentication as the token endpoint
// does it: the secret's HMAC and the lookup.
func BenchmarkAuthenticate(b *testing.B) {
	svc := NewService(NewStore(dbtest.Open(b).Gorm), make([]byte, pepperLen), nil)
	ctx := context.Background()
	_, secret, err := svc.Create(ctx, Spec{ID: "bench", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"api"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, "bench", secret); err != nil {
			b.Fatal(err)
		}
	}
}
