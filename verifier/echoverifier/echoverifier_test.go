package echoverifier_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/server/servertest"
	"idp/verifier"
	"idp/verifier/echoverifier"
)

func TestEchoMiddleware(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	c, secret := env.CreateClient(t, clients.Spec{
		ID: "orders", SigningAlg: "ES256", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"},
	})
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: env.URL, Audience: c.ID, Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := clientToken(t, env.URL, c.ID, secret)

	e := echo.New()
	api := e.Group("/api", echoverifier.Middleware(v))
	api.GET("/me", func(c echo.Context) error { return c.String(http.StatusOK, echoverifier.Claims(c).ClientID) })
	api.GET("/admin", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, echoverifier.RequireScope(v, "admin"))

	cases := []struct {
		name, path, auth string
		status           int
		challenge, body  string
	}{
		{"no token", "/api/me", "", 401, `Bearer realm="orders"`, ""},
		{"bad token", "/api/me", "Bearer x.y.z", 401, `Bearer realm="orders", error="invalid_token", error_description="invalid token"`, ""},
		{"good token", "/api/me", "Bearer " + tok, 200, "", "orders"},
		{"missing scope", "/api/admin", "Bearer " + tok, 403,
			`Bearer realm="orders", error="insufficient_scope", error_description="the token lacks the required scope", scope="admin"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Header().Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", w.Body, tc.body)
			}
		})
	}
	if echoverifier.Claims(e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())) != nil {
		t.Error("Claims outside the middleware is not nil")
	}
}

// TestEchoMetadata: the metadata is mounted at its RFC 9728 §3.1 path,
// outside the token-checking group, and the group's challenges point to it.
func TestEchoMetadata(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: env.URL, Resource: "https://api.example.com/orders"})
	if err != nil {
		t.Fatal(err)
	}
	md := v.ResourceMetadata()
	md.ScopesSupported = []string{"orders:read"}
	h, err := verifier.NewMetadataHandler(md)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	echoverifier.MountMetadata(e, h)
	e.Group("/orders", echoverifier.Middleware(v)).GET("", func(c echo.Context) error { return c.NoContent(http.StatusOK) })

	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/orders", nil))
	var doc verifier.ResourceMetadata
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 || doc.Resource != md.Resource ||
		doc.AuthorizationServers[0] != env.URL || doc.ScopesSupported[0] != "orders:read" {
		t.Fatalf("metadata: %d %s %v", w.Code, w.Body, err)
	}
	w = httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/orders", nil))
	want := `Bearer realm="https://api.example.com/orders", resource_metadata="` + h.URL() + `"`
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("no token: %d %q, want %q", w.Code, w.Header().Get("WWW-Authenticate"), want)
	}
}

// clientToken gets an access token with the client_credentials grant.
func clientToken(t *testing.T, issuer, id, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token endpoint: %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}
