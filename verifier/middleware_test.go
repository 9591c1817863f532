package verifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"idp/verifier"
)

// whoami echoes the verified subject, proving the claims reached the handler.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := verifier.ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, c.Subject)
})

func TestMiddleware(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	good := f.token(t, "api")
	expired := f.sign(t, "RS256", "at+jwt", func() map[string]any {
		c := f.claims()
		c["exp"] = f.env.Clock.Now().Unix() - 60
		return c
	}())
	mux := http.NewServeMux()
	mux.Handle("/data", whoami)
	mux.Handle("/api", f.v.RequireScope("api", whoami))
	mux.Handle("/admin", f.v.RequireScope("admin", whoami))
	h := f.v.Middleware(mux)
	realm := `Bearer realm="api-client"`

	cases := []struct {
		name, path string
		auth       []string
		status     int
		challenge  string // WWW-Authenticate
		body       string // exact body for 200
	}{
		{"no token", "/data", nil, 401, realm, ""},
		{"Basic credentials", "/data", []string{"Basic YTpi"}, 401, realm, ""},
		{"garbage token", "/data", []string{"Bearer abc"}, 401,
			realm + `, error="invalid_token", error_description="invalid token"`, ""},
		{"expired token", "/data", []string{"Bearer " + expired}, 401,
			realm + `, error="invalid_token", error_description="token expired"`, ""},
		{"flipped signature", "/data", []string{"Bearer " + flipSignature(t, good)}, 401,
			realm + `, error="invalid_token", error_description="invalid signature"`, ""},
		{"malformed header", "/data", []string{"Bearer a b"}, 400,
			realm + `, error="invalid_request", error_description="malformed bearer token"`, ""},
		{"two headers", "/data", []string{"Bearer " + good, "Bearer " + good}, 400,
			realm + `, error="invalid_request", error_description="more than one Authorization header"`, ""},
		{"good token", "/data", []string{"Bearer " + good}, 200, "", f.client},
		{"scheme is case-insensitive", "/data", []string{"bearer " + good}, 200, "", f.client},
		{"granted scope", "/api", []string{"Bearer " + good}, 200, "", f.client},
		{"missing scope", "/admin", []string{"Bearer " + good}, 403,
			realm + `, error="insufficient_scope", error_description="the token lacks the required scope", scope="admin"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Header().Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
			if tc.status == 200 {
				if w.Body.String() != tc.body {
					t.Fatalf("body %q, want %q", w.Body, tc.body)
				}
				return
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("error response is cacheable")
			}
			if tc.challenge != realm {
				var body map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] == "" {
					t.Errorf("error body %q: %v", w.Body, err)
				}
			}
		})
	}
}

// TestRequireScopeWithoutMiddleware: misuse fails closed.
func TestRequireScopeWithoutMiddleware(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	w := httptest.NewRecorder()
	f.v.RequireScope("api", whoami).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", w.Code)
	}
}

// TestMiddlewareResourceMetadata: with Config.Resource, every challenge
// names the resource's metadata (RFC 9728 §5.1) beside RFC 6750 §3's
// parameters, each a quoted-string, separated by commas.
func TestMiddlewareResourceMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "ES256")
	good := f.token(t, "api")
	v, err := verifier.New(context.Background(), verifier.Config{
		Issuer: f.env.URL, Audience: f.client, Resource: "https://api.example.com/orders", Now: f.env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/data", whoami)
	mux.Handle("/admin", v.RequireScope("admin", whoami))
	h := v.Middleware(mux)
	head := `Bearer realm="api-client", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/orders"`
	cases := []struct {
		name, path, auth string
		status           int
		challenge        string
	}{
		{"no token", "/data", "", 401, head},
		{"invalid token", "/data", "Bearer abc", 401, head + `, error="invalid_token", error_description="invalid token"`},
		{"malformed header", "/data", "Bearer a b", 400, head + `, error="invalid_request", error_description="malformed bearer token"`},
		{"missing scope", "/admin", "Bearer " + good, 403,
			head + `, error="insufficient_scope", error_description="the token lacks the required scope", scope="admin"`},
		{"good token", "/data", "Bearer " + good, 200, ""},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, w.Code, w.Header().Get("WWW-Authenticate"), tc.status, tc.challenge)
		}
	}

	// The starting document names idp and the header method, and its
	// handler lives at the URL the challenge names.
	md := v.ResourceMetadata()
	if md.Resource != "https://api.example.com/orders" || !slices.Equal(md.AuthorizationServers, []string{f.env.URL}) ||
		!slices.Equal(md.BearerMethodsSupported, []string{"header"}) {
		t.Fatalf("ResourceMetadata %+v", md)
	}
	mh, err := verifier.NewMetadataHandler(md)
	if err != nil || !strings.Contains(head, `"`+mh.URL()+`"`) {
		t.Fatalf("metadata handler URL %q, %v", mh.URL(), err)
	}
}

// TestConfigResource: Audience defaults to Resource, and a Resource that is
// not a resource identifier fails at start-up.
func TestConfigResource(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: f.env.URL, Resource: "https://api.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	v.Middleware(whoami).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	want := `Bearer realm="https://api.example.com/", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`
	if got := w.Header().Get("WWW-Authenticate"); got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
	for _, bad := range []string{"http://api.example.com/", "https://api.example.com/#top", "orders"} {
		if _, err := verifier.New(context.Background(), verifier.Config{Issuer: f.env.URL, Resource: bad}); err == nil {
			t.Errorf("Resource %q accepted", bad)
		}
	}
}
