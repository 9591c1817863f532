package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/clients"
)

// TestPARRequirementThroughAdminAndRegistration: the admin API, the admin
// client page and dynamic registration (RFC 7591, RFC 7592) all set and
// show require_pushed_authorization_requests (RFC 9126 §6).
func TestPARRequirementThroughAdminAndRegistration(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	env := c.env
	stored := func(id string) bool {
		t.Helper()
		cl, err := env.Clients.Store().ByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return cl.RequirePAR
	}
	env.CreateClient(t, clients.Spec{ID: "notes", Name: "Notes", RedirectURIs: []string{"https://notes.example/cb"}})

	t.Run("admin API", func(t *testing.T) {
		env.CreateUser(t, adminEmail+".api", adminPassword, "admin")
		tok := adminToken(t, env, adminEmail+".api", adminPassword, "openid", "idp:admin")
		status, body, _ := api(t, env, "PATCH", "/api/admin/clients/notes", tok, map[string]any{"require_pushed_authorization_requests": true})
		cl, _ := body["client"].(map[string]any)
		if status != 200 || cl["require_pushed_authorization_requests"] != true || !stored("notes") {
			t.Fatalf("PATCH: %d %v", status, body)
		}
		_, list, _ := api(t, env, "GET", "/api/admin/clients", tok, nil)
		if !strings.Contains(toJSON(t, list), `"require_pushed_authorization_requests":true`) {
			t.Fatalf("list: %v", list)
		}
	})

	t.Run("admin page", func(t *testing.T) {
		if p := c.page(t, "/admin/clients/notes"); !strings.Contains(p.Body, `name="require_pushed_authorization_requests" type="checkbox" value="1" checked`) {
			t.Fatal("the page does not show the stored requirement")
		}
		form := url.Values{"name": {"Notes"}, "redirect_uris": {"https://notes.example/cb"}, "scopes": {"openid email"},
			"signing_alg": {"RS256"}, "application_type": {"web"}, "default_max_age": {"0"}, "grant_type": {"authorization_code"}}
		if resp, _ := c.post(t, "/admin/clients/notes", form); resp.StatusCode != http.StatusSeeOther || stored("notes") {
			t.Fatalf("clearing: %d, stored %v", resp.StatusCode, stored("notes"))
		}
		form.Set("require_pushed_authorization_requests", "1")
		if resp, _ := c.post(t, "/admin/clients/notes", form); resp.StatusCode != http.StatusSeeOther || !stored("notes") {
			t.Fatalf("setting: %d, stored %v", resp.StatusCode, stored("notes"))
		}
	})

	t.Run("registration", func(t *testing.T) {
		tok := initialToken(t, env, time.Hour, 1)
		status, body, _ := register(t, env, http.MethodPost, "/register", tok, map[string]any{
			"redirect_uris": []string{"https://reg.example/cb"}, "require_pushed_authorization_requests": true})
		id, _ := body["client_id"].(string)
		if status != http.StatusCreated || body["require_pushed_authorization_requests"] != true || !stored(id) {
			t.Fatalf("register: %d %v", status, body)
		}
		regTok, _ := body["registration_access_token"].(string)
		path := "/register/" + id
		status, body, _ = register(t, env, http.MethodGet, path, regTok, nil)
		if status != 200 || body["require_pushed_authorization_requests"] != true {
			t.Fatalf("read: %d %v", status, body)
		}
		body["require_pushed_authorization_requests"] = false
		delete(body, "registration_access_token")
		delete(body, "client_secret")
		status, body, _ = register(t, env, http.MethodPut, path, regTok, body)
		if status != 200 || body["require_pushed_authorization_requests"] != nil || stored(id) {
			t.Fatalf("update: %d %v", status, body)
		}
	})
}
