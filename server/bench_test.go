package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"idp/clients"
	"idp/resources"
	"idp/server/servertest"
)

// BenchmarkJWKS measures serving the JWKS through the whole middleware
// chain, in-process (no network), so the per-request overhead of idp over
// a bare handler shows.
func BenchmarkJWKS(b *testing.B) {
	benchGet(b, "/.well-known/jwks.json", "Accept-Encoding", "gzip")
}

// BenchmarkDiscovery is BenchmarkJWKS for the discovery document.
func BenchmarkDiscovery(b *testing.B) {
	benchGet(b, "/.well-known/openid-configuration")
}

// benchGet serves GET path (with header name/value pairs) in a loop and
// fails on anything but 200.
func benchGet(b *testing.B, path string, hdr ...string) {
	env := servertest.New(b)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
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

// BenchmarkClientCredentialsForResource is BenchmarkClientCredentials for
// a client whose tokens go to its default resource: the price of the
// resource lookup (one indexed SELECT) on every token request.
func BenchmarkClientCredentialsForResource(b *testing.B) {
	env := servertest.New(b)
	env.CreateResource(b, resources.Spec{URI: "https://api.example/orders", NoSecret: true})
	spec := clients.Spec{ID: "m2m", SigningAlg: "ES256", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}}
	spec.DefaultResource = "https://api.example/orders"
	_, secret := env.CreateClient(b, spec)
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

// BenchmarkJWKSOverTCP serves the JWKS from a real listener to a keep-alive
// client, 32 requests in flight per CPU: the server's share of a CPU
// profile of this is what a relying service's key fetch costs idp.
func BenchmarkJWKSOverTCP(b *testing.B) {
	env := servertest.New(b)
	srv := httptest.NewServer(env.Server)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.URL + "/.well-known/jwks.json")
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Error(resp.Status)
				return
			}
		}
	})
}
