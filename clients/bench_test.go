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
