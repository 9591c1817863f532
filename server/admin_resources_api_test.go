package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/resources"
	"idp/server/servertest"
)

func resourceAPIPath(uri string) string { return "/api/admin/resources/" + url.PathEscape(uri) }

// TestAdminAPIResourcesAuthorization: every resource endpoint wants an
// admin's idp:admin token: none is 401, a non-admin's 403.
func TestAdminAPIResourcesAuthorization(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	userTok := adminToken(t, env, testEmail, testPassword, "openid", "idp:admin")
	env.CreateResource(t, resources.Spec{URI: "urn:example:kept", Name: "Kept"})
	p := resourceAPIPath("urn:example:kept")
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/admin/resources"}, {"POST", "/api/admin/resources"}, {"GET", p}, {"PATCH", p}, {"DELETE", p}, {"POST", p + "/secret"},
	} {
		for _, tc := range []struct {
			name, token string
			status      int
		}{{"anonymous", "", 401}, {"garbage", "not.a.token", 401}, {"non-admin", userTok, 403}} {
			body := map[string]any{"id": "urn:example:sneaky", "name": "Sneaky"}
			if status, out, hdr := api(t, env, r.method, r.path, tc.token, body); status != tc.status || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s as %s: %d %v, want %d", r.method, r.path, tc.name, status, out, tc.status)
			}
		}
	}
	if kept, err := env.Resources.Store().ByURI(t.Context(), "urn:example:kept"); err != nil || kept.Name != "Kept" {
		t.Fatalf("a refused call changed the resource: %+v %v", kept, err)
	}
	if _, err := env.Resources.Store().ByURI(t.Context(), "urn:example:sneaky"); err == nil {
		t.Fatal("a refused call created a resource")
	}
}

// TestAdminAPIResources: create, read, update, regenerate and delete
// through the API, with URIs that hold "/", ":", "?" and "%" in the path;
// bad input is 400 with nothing changed, an unknown resource 404.
func TestAdminAPIResources(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")

	// "urn:example:a%20b" needs no RawPath once escaped ("%" becomes %25
	// and nothing else changes); oddURI does: both decode exactly once.
	for _, uri := range []string{oddURI, "urn:example:a%20b"} {
		status, body, hdr := api(t, env, "POST", "/api/admin/resources", tok, map[string]any{"id": uri, "name": "Orders",
			"scopes": []string{"orders:read"}, "signing_alg": "ES256", "access_token_ttl": 120})
		r, _ := body["resource"].(map[string]any)
		secret, _ := body["client_secret"].(string)
		if status != http.StatusCreated || r["id"] != uri || r["introspects"] != true || len(secret) < 32 || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("create %s: %d %v", uri, status, body)
		}
		if _, err := env.Resources.Authenticate(t.Context(), uri, secret); err != nil {
			t.Fatalf("the returned secret: %v", err)
		}
		status, body, _ = api(t, env, "GET", resourceAPIPath(uri), tok, nil)
		if r, _ := body["resource"].(map[string]any); status != 200 || r["id"] != uri || r["access_token_ttl"] != 120.0 || r["signing_alg"] != "ES256" {
			t.Fatalf("get %s: %d %v", uri, status, body)
		}
	}
	status, body, _ := api(t, env, "GET", "/api/admin/resources", tok, nil)
	if list, _ := body["resources"].([]any); status != 200 || len(list) != 2 || strings.Contains(toJSON(t, body), "secret") {
		t.Fatalf("list: %d %v", status, body)
	}

	// A resource without a secret, and one with a given secret.
	status, body, _ = api(t, env, "POST", "/api/admin/resources", tok, map[string]any{"id": "urn:example:local", "no_secret": true})
	if r, _ := body["resource"].(map[string]any); status != 201 || r["introspects"] != false || body["client_secret"] != nil {
		t.Fatalf("no secret: %d %v", status, body)
	}
	given := strings.Repeat("s", 40)
	status, body, _ = api(t, env, "POST", "/api/admin/resources", tok, map[string]any{"id": "urn:example:given", "secret": given})
	if _, err := env.Resources.Authenticate(t.Context(), "urn:example:given", given); status != 201 || body["client_secret"] != nil || err != nil {
		t.Fatalf("given secret: %d %v %v", status, body, err)
	}

	// Bad input: 400, nothing created.
	for name, bad := range map[string]any{
		"relative URI":  map[string]any{"id": "/api"},
		"bad alg":       map[string]any{"id": "urn:example:x", "signing_alg": "HS256"},
		"short ttl":     map[string]any{"id": "urn:example:x", "access_token_ttl": 5},
		"negative ttl":  map[string]any{"id": "urn:example:x", "access_token_ttl": -60},
		"huge ttl":      map[string]any{"id": "urn:example:x", "access_token_ttl": int64(1) << 62},
		"short secret":  map[string]any{"id": "urn:example:x", "secret": "short"},
		"both":          map[string]any{"id": "urn:example:x", "secret": given, "no_secret": true},
		"unknown field": map[string]any{"id": "urn:example:x", "audience": "y"},
		"not an object": []string{"urn:example:x"},
	} {
		if status, body, _ := api(t, env, "POST", "/api/admin/resources", tok, bad); status != 400 || body["error"] != "invalid_request" {
			t.Errorf("%s: %d %v", name, status, body)
		}
	}
	if _, err := env.Resources.Store().ByURI(t.Context(), "urn:example:x"); err == nil {
		t.Fatal("a refused create made urn:example:x")
	}
	if status, body, _ := api(t, env, "POST", "/api/admin/resources", tok, map[string]any{"id": oddURI}); status != 409 {
		t.Errorf("taken URI: %d %v", status, body)
	}

	// PATCH: the fields present change; bad ones change nothing.
	status, body, _ = api(t, env, "PATCH", resourceAPIPath(oddURI), tok, map[string]any{"name": "Orders v2", "access_token_ttl": 300})
	if r, _ := body["resource"].(map[string]any); status != 200 || r["name"] != "Orders v2" || r["signing_alg"] != "ES256" || r["access_token_ttl"] != 300.0 {
		t.Fatalf("patch: %d %v", status, body)
	}
	for name, bad := range map[string]any{
		"empty":         map[string]any{},
		"bad alg":       map[string]any{"name": "Refused", "signing_alg": "none"},
		"long ttl":      map[string]any{"name": "Refused", "access_token_ttl": 86400},
		"unknown field": map[string]any{"name": "Refused", "secret": given},
	} {
		if status, body, _ := api(t, env, "PATCH", resourceAPIPath(oddURI), tok, bad); status != 400 {
			t.Errorf("patch %s: %d %v", name, status, body)
		}
	}
	if r, _ := env.Resources.Store().ByURI(t.Context(), oddURI); r.Name != "Orders v2" || r.AccessTokenTTL != 5*time.Minute {
		t.Fatalf("a refused patch changed it: %+v", r)
	}

	// A new secret, once; the old one stops.
	old := env.CreateResource(t, resources.Spec{URI: "https://billing.example/?v=1"})
	status, body, _ = api(t, env, "POST", resourceAPIPath("https://billing.example/?v=1")+"/secret", tok, nil)
	fresh, _ := body["client_secret"].(string)
	if status != 200 || body["client_id"] != "https://billing.example/?v=1" || len(fresh) < 32 {
		t.Fatalf("regenerate: %d %v", status, body)
	}
	if _, err := env.Resources.Authenticate(t.Context(), "https://billing.example/?v=1", old); err == nil {
		t.Fatal("the old secret still works")
	}
	if _, err := env.Resources.Authenticate(t.Context(), "https://billing.example/?v=1", fresh); err != nil {
		t.Fatalf("the new secret: %v", err)
	}

	// Unknown resources: 404 everywhere, and what is close to a known URI
	// (unescaped differently) is not taken for it.
	for _, path := range []string{resourceAPIPath("urn:example:ghost"), resourceAPIPath("urn:example:a b"), "/api/admin/resources/" + oddURI} {
		for _, method := range []string{"GET", "PATCH", "DELETE", "POST /secret"} {
			m, p := method, path
			if method == "POST /secret" {
				m, p = "POST", path+"/secret"
			}
			if status, body, _ := api(t, env, m, p, tok, map[string]any{"name": "x"}); status != 404 {
				t.Errorf("%s %s: %d %v", m, p, status, body)
			}
		}
	}

	// DELETE, then it is gone.
	if status, _, _ := api(t, env, "DELETE", resourceAPIPath(oddURI), tok, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := api(t, env, "GET", resourceAPIPath(oddURI), tok, nil); status != 404 {
		t.Fatalf("deleted: %d", status)
	}
	for _, action := range []string{"resource.created", "resource.updated", "resource.deleted"} {
		if events(t, env, action, oddURI) != 1 {
			t.Errorf("want one %s event", action)
		}
	}
	if events(t, env, "resource.secret_regenerated", "https://billing.example/?v=1") != 1 {
		t.Error("no audit event for the regeneration")
	}
}
