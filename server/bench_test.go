package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"idp/server/servertest"
)

// BenchmarkJWKS measures serving the JWKS through the whole middleware
// chain, in-process (no network), so the per-request overhead of idp over
// a bare handler shows.
func BenchmarkJWKS(b *testing.B) {
	env := servertest.New(b)
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		env.Server.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkDiscovery is BenchmarkJWKS for the discovery document.
func BenchmarkDiscovery(b *testing.B) {
	env := servertest.New(b)
	req := httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		env.Server.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
