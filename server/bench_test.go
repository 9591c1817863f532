package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"idp/clients"
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

// BenchmarkClientCredentials measures a client_credentials token request
// (client authentication, ES256 signing) through the whole server.
func BenchmarkClientCredentials(b *testing.B) {
	env := servertest.New(b)
	_, secret := env.CreateClient(b, clients.Spec{ID: "m2m", SigningAlg: "ES256",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("m2m", secret)
		w := httptest.NewRecorder()
		env.Server.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
