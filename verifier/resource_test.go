package verifier_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"idp/verifier"
)

// TestMetadataURL follows RFC 9728 §3.1: the well-known suffix is inserted
// between the host and the path (a terminating slash removed), and a query
// comes after it.
func TestMetadataURL(t *testing.T) {
	t.Parallel()
	const wk = "/.well-known/oauth-protected-resource"
	cases := []struct{ resource, want string }{
		// §3.2's example resource, which has no path.
		{"https://resource.example.com", "https://resource.example.com" + wk},
		{"https://resource.example.com/", "https://resource.example.com" + wk},
		// §3.1's example of a resource with a path.
		{"https://resource.example.com/resource1", "https://resource.example.com" + wk + "/resource1"},
		{"https://api.example.com/orders", "https://api.example.com" + wk + "/orders"},
		{"https://api.example.com/orders/", "https://api.example.com" + wk + "/orders"},
		{"https://api.example.com/v1/orders", "https://api.example.com" + wk + "/v1/orders"},
		{"https://api.example.com:8443/orders", "https://api.example.com:8443" + wk + "/orders"},
		{"https://api.example.com/a%20b", "https://api.example.com" + wk + "/a%20b"},
		// §3.1: a query component follows the inserted path.
		{"https://api.example.com/orders?tenant=7", "https://api.example.com" + wk + "/orders?tenant=7"},
		{"https://api.example.com?tenant=7", "https://api.example.com" + wk + "?tenant=7"},
		// Plain http for development on this machine.
		{"http://127.0.0.1:9000/mcp", "http://127.0.0.1:9000" + wk + "/mcp"},
		{"http://localhost:9000/mcp", "http://localhost:9000" + wk + "/mcp"},
		{"http://[::1]:9000/", "http://[::1]:9000" + wk},
	}
	for _, tc := range cases {
		got, err := verifier.MetadataURL(tc.resource)
		if err != nil || got != tc.want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", tc.resource, got, err, tc.want)
		}
	}
	// Not resource identifiers (§1.2: https, no fragment).
	for _, bad := range []string{
		"", "/orders", "api.example.com/orders", "urn:example:orders", "https:///orders",
		"http://api.example.com/orders", "ftp://api.example.com/orders",
		"https://api.example.com/orders#x", "https://api.example.com/orders#",
		"https://user@api.example.com/orders", "http://127.0.0.1.nip.io/mcp",
	} {
		if got, err := verifier.MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) = %q, want an error", bad, got)
		}
	}
}

// TestMetadataHandler serves the shape of RFC 9728 §3.2's example document
// at the URL §3.1 builds, and nowhere else.
func TestMetadataHandler(t *testing.T) {
	t.Parallel()
	h, err := verifier.NewMetadataHandler(verifier.ResourceMetadata{
		Resource:               "https://resource.example.com",
		AuthorizationServers:   []string{"https://as1.example.com", "https://as2.example.net"},
		BearerMethodsSupported: []string{"header", "body"},
		ScopesSupported:        []string{"profile", "email", "phone"},
		ResourceDocumentation:  "https://resource.example.com/resource_documentation.html",
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Path() != "/.well-known/oauth-protected-resource" ||
		h.URL() != "https://resource.example.com/.well-known/oauth-protected-resource" {
		t.Fatalf("path %q, URL %q", h.Path(), h.URL())
	}
	w := serve(h, http.MethodGet, "https://resource.example.com/.well-known/oauth-protected-resource")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET: %d %v", w.Code, w.Header())
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"resource":                 "https://resource.example.com",
		"authorization_servers":    []any{"https://as1.example.com", "https://as2.example.net"},
		"bearer_methods_supported": []any{"header", "body"},
		"scopes_supported":         []any{"profile", "email", "phone"},
		"resource_documentation":   "https://resource.example.com/resource_documentation.html",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("document %s\nwant %v", w.Body, want)
	}

	for _, tc := range []struct {
		method, url string
		status      int
	}{
		{http.MethodHead, "/.well-known/oauth-protected-resource", 200},
		{http.MethodOptions, "/.well-known/oauth-protected-resource", 204},
		{http.MethodPost, "/.well-known/oauth-protected-resource", 405},
		// §3.3: served for another resource's URL, a client would have to
		// discard it; mounted too widely, the handler says 404.
		{http.MethodGet, "/.well-known/oauth-protected-resource/orders", 404},
		{http.MethodGet, "/.well-known/oauth-protected-resource?x=1", 404},
	} {
		w := serve(h, tc.method, tc.url)
		if w.Code != tc.status || tc.method == http.MethodHead && w.Body.Len() != 0 {
			t.Errorf("%s %s: %d %q, want %d", tc.method, tc.url, w.Code, w.Body, tc.status)
		}
	}

	// A resource with a path and a query is served only at its own URL.
	hq, err := verifier.NewMetadataHandler(verifier.ResourceMetadata{Resource: "https://api.example.com/orders/?t=1"})
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(hq, http.MethodGet, "/.well-known/oauth-protected-resource/orders?t=1"); w.Code != 200 ||
		!strings.Contains(w.Body.String(), `"resource":"https://api.example.com/orders/?t=1"`) {
		t.Fatalf("resource with a path and query: %d %s", w.Code, w.Body)
	}
	if w := serve(hq, http.MethodGet, "/.well-known/oauth-protected-resource/orders"); w.Code != 404 {
		t.Fatalf("without its query: %d", w.Code)
	}
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// TestMetadataHandlerRefuses: a document that breaks RFC 9728 §2 is not
// served; every problem is named.
func TestMetadataHandlerRefuses(t *testing.T) {
	t.Parallel()
	_, err := verifier.NewMetadataHandler(verifier.ResourceMetadata{
		Resource:               "http://api.example.com/orders",
		AuthorizationServers:   []string{"https://idp.example.com", "idp.example.com", "https://idp.example.com?x=1"},
		BearerMethodsSupported: []string{"header", "cookie"},
		ResourcePolicyURI:      "/policy",
	})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`resource "http://api.example.com/orders"`, `"idp.example.com"`,
		`"https://idp.example.com?x=1"`, `"cookie"`, `resource_policy_uri "/policy"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"https://idp.example.com"`) {
		t.Errorf("error %q names a good issuer", err)
	}
	if _, err := verifier.NewMetadataHandler(verifier.ResourceMetadata{}); err == nil {
		t.Error("accepted a document without resource")
	}
}
