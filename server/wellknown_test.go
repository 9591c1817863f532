package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"idp/server"
	"idp/server/servertest"
)

// get fetches url with optional headers.
func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return fetch(t, http.MethodGet, url, hdr...)
}

// fetch sends a bodiless request with optional headers.
func fetch(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// A plain Transport would add and strip gzip itself; disable that so
	// the test sees exactly what the server sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestDiscovery(t *testing.T) {
	env := servertest.New(t)
	resp, body := get(t, env.URL+"/.well-known/openid-configuration")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != env.URL {
		t.Errorf("issuer = %v, want %s", doc["issuer"], env.URL)
	}
	if doc["jwks_uri"] != env.URL+"/.well-known/jwks.json" {
		t.Errorf("jwks_uri = %v", doc["jwks_uri"])
	}
	for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"} {
		if _, ok := doc[k].([]any); !ok {
			t.Errorf("discovery lacks %s (OIDC Discovery §3 REQUIRED)", k)
		}
	}
	algs := doc["id_token_signing_alg_values_supported"].([]any)
	if len(algs) != 2 || algs[0] != "RS256" || algs[1] != "ES256" {
		t.Errorf("algs = %v", algs)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("discovery lacks CORS")
	}
}

// TestAuthorizationServerMetadata: RFC 8414 §3 metadata is the discovery
// document byte for byte (same issuer, same endpoints), with the same
// caching and CORS, at the root and, for an issuer with a path, after the
// well-known prefix (§3.1); an unrelated suffix is not found.
func TestAuthorizationServerMetadata(t *testing.T) {
	for _, path := range []string{"", "/tenant-a"} {
		env := servertest.New(t, func(c *server.Config) { c.Issuer += path })
		_, oidc := get(t, env.URL+"/.well-known/openid-configuration")
		for _, u := range []string{env.URL + "/.well-known/oauth-authorization-server" + path,
			env.URL + "/.well-known/oauth-authorization-server"} {
			resp, body := get(t, u)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%s: %d %q", u, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if string(body) != string(oidc) {
				t.Errorf("%s differs from discovery:\n%s\n%s", u, body, oidc)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") == "" {
				t.Errorf("%s headers %v", u, resp.Header)
			}
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			// RFC 8414 §3.3: issuer must be identical to the one the
			// metadata URL was built from.
			if doc["issuer"] != env.URL+path {
				t.Errorf("%s: issuer %v", u, doc["issuer"])
			}
			for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
				"grant_types_supported", "token_endpoint_auth_methods_supported", "code_challenge_methods_supported",
				"revocation_endpoint", "introspection_endpoint", "scopes_supported"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("%s lacks %s", u, k)
				}
			}
		}
		if resp, _ := get(t, env.URL+"/.well-known/oauth-authorization-server/other"); resp.StatusCode != 404 {
			t.Errorf("another issuer's path: %d", resp.StatusCode)
		}
	}
}

func TestJWKS(t *testing.T) {
	env := servertest.New(t)
	resp, body := get(t, env.URL+"/.well-known/jwks.json")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q", cc)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Errorf("ETag %q is not a strong quoted tag", etag)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	perAlg := map[string]int{}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v carries private member %q", k["kid"], private)
			}
		}
		if k["use"] != "sig" || k["kid"] == "" {
			t.Errorf("key lacks use=sig or kid: %v", k)
		}
		perAlg[k["alg"].(string)]++
	}
	// Each alg publishes its active key and its next key (CONTRACT.md).
	if perAlg["RS256"] != 2 || perAlg["ES256"] != 2 {
		t.Errorf("keys per alg = %v, want 2 RS256 (active, next) and 2 ES256", perAlg)
	}

	t.Run("If-None-Match gives 304", func(t *testing.T) {
		r, b := get(t, env.URL+"/.well-known/jwks.json", "If-None-Match", etag)
		if r.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Fatalf("status %d, %d bytes", r.StatusCode, len(b))
		}
		r, _ = get(t, env.URL+"/.well-known/jwks.json", "If-None-Match", `"other"`)
		if r.StatusCode != 200 {
			t.Fatalf("stale tag: status %d", r.StatusCode)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		r, b := get(t, env.URL+"/.well-known/jwks.json", "Accept-Encoding", "gzip")
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding = %q", r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if !bytes.Equal(plain, body) {
			t.Fatal("gzip body differs from the plain one")
		}
	})
	t.Run("rotation changes the ETag", func(t *testing.T) {
		env.Clock.Advance(6 * time.Minute)
		if _, err := env.Keys.Rotate(context.Background(), "RS256", false); err != nil {
			t.Fatal(err)
		}
		r, _ := get(t, env.URL+"/.well-known/jwks.json", "If-None-Match", etag)
		if r.StatusCode != 200 || r.Header.Get("ETag") == etag {
			t.Fatalf("after rotation: status %d, ETag %q (old %q)", r.StatusCode, r.Header.Get("ETag"), etag)
		}
	})
}

func TestHealthAndReady(t *testing.T) {
	env := servertest.New(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r, b := get(t, env.URL+p); r.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, r.StatusCode, b)
		}
	}
	env.DB.Close()
	if r, _ := get(t, env.URL+"/readyz"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed: %d", r.StatusCode)
	}
	if r, _ := get(t, env.URL+"/healthz"); r.StatusCode != 200 {
		t.Errorf("healthz must not depend on the database: %d", r.StatusCode)
	}
}

func TestUnknownPathIsNotEchoDefault(t *testing.T) {
	env := servertest.New(t)
	r, b := get(t, env.URL+"/no/such/thing")
	if r.StatusCode != 404 || bytes.Contains(b, []byte(`"message"`)) {
		t.Fatalf("status %d body %s", r.StatusCode, b)
	}
	var e map[string]string
	if err := json.Unmarshal(b, &e); err != nil || e["error"] == "" {
		t.Fatalf("body %s is not a spec-shaped error", b)
	}
	if r.Header.Get("X-Request-Id") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("request id or security headers missing")
	}
	r, _ = get(t, env.URL+"/.well-known/jwks.json")
	if r.Header.Get("Cache-Control") == "no-store" {
		t.Error("JWKS must be cacheable")
	}
}

// TestCommonChainOnEveryAnswer: the middleware chain is built once around
// whatever handler the router picks, so a 405, a streamed oversize body
// and a normal answer all carry the request id and security headers, and
// a sane client-supplied request id is echoed.
func TestCommonChainOnEveryAnswer(t *testing.T) {
	env := servertest.New(t)
	client := &http.Client{}

	// 405: POST to the JWKS.
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/.well-known/jwks.json", strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("X-Request-Id") != "trace-42" ||
		resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("405: status %d, headers %v", resp.StatusCode, resp.Header)
	}

	// A chunked body (no Content-Length) over 64 KiB: 413 once reading
	// crosses the limit, not a form error.
	body := io.MultiReader(strings.NewReader("grant_type=client_credentials&pad="), strings.NewReader(strings.Repeat("x", 70<<10)))
	req, _ = http.NewRequest(http.MethodPost, env.URL+"/token", io.NopCloser(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte(`"invalid_request"`)) {
		t.Errorf("streamed oversize body: status %d, body %s", resp.StatusCode, b)
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("413 from the token endpoint: headers %v", resp.Header)
	}

	// An insane request id is replaced, not echoed.
	r, _ := get(t, env.URL+"/.well-known/openid-configuration", "X-Request-Id", "bad id\twith spaces")
	if id := r.Header.Get("X-Request-Id"); id == "" || strings.ContainsAny(id, " \t") {
		t.Errorf("request id %q", id)
	}
}

// TestHead: the read-only documents answer HEAD (RFC 9110 §9.3.2) with the
// GET's status and headers, Content-Length included, and no body; pages and
// /authorize, where a GET may store state, stay GET-only.
func TestHead(t *testing.T) {
	env := servertest.New(t)
	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		return fetch(t, method, env.URL+path)
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json",
		"/healthz", "/readyz", "/metrics", "/static/style.css"} {
		g, gb := do(http.MethodGet, path)
		h, hb := do(http.MethodHead, path)
		if g.StatusCode != http.StatusOK || h.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %d, HEAD %d", path, g.StatusCode, h.StatusCode)
			continue
		}
		if len(hb) != 0 {
			t.Errorf("HEAD %s sent a body of %d bytes", path, len(hb))
		}
		if path != "/metrics" && h.ContentLength != int64(len(gb)) {
			t.Errorf("HEAD %s: Content-Length %d, GET body %d bytes", path, h.ContentLength, len(gb))
		}
		for _, k := range []string{"Content-Type", "Cache-Control", "Etag", "Access-Control-Allow-Origin", "X-Content-Type-Options"} {
			if g.Header.Get(k) != h.Header.Get(k) {
				t.Errorf("HEAD %s: %s %q, GET %q", path, k, h.Header.Get(k), g.Header.Get(k))
			}
		}
	}
	for _, path := range []string{"/authorize?client_id=x", "/login", "/account"} {
		if h, _ := do(http.MethodHead, path); h.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s: %d, want 405", path, h.StatusCode)
		}
	}
}
