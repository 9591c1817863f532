package server_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
)

// The admin API shows what a user holds and lets an admin re-enable a
// disabled user: the sessions and grants that disabling ended stay ended.
func TestAdminAPIUserSessionsAndEnable(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	user := env.CreateUser(t, testEmail, testPassword)
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	app := newRPWithScopes(t, env, clients.Spec{ID: "notes", Trusted: true}, []string{"openid", "offline_access"})
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
	if _, err := app.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}

	status, body, _ := api(t, env, "GET", "/api/admin/users/"+user.ID+"/sessions", tok, nil)
	sessions, _ := body["sessions"].([]any)
	grants, _ := body["grants"].([]any)
	if status != http.StatusOK || len(sessions) != 1 || len(grants) != 1 || grants[0].(map[string]any)["client_id"] != "notes" {
		t.Fatalf("sessions: %d %v", status, body)
	}
	if status, body, _ := api(t, env, "POST", "/api/admin/users/"+user.ID+"/disable", tok, nil); status != 200 || body["disabled"] != true {
		t.Fatalf("disable: %d %v", status, body)
	}
	status, body, _ = api(t, env, "POST", "/api/admin/users/"+user.ID+"/enable", tok, nil)
	if status != http.StatusOK || body["disabled"] != false {
		t.Fatalf("enable: %d %v", status, body)
	}
	status, body, _ = api(t, env, "GET", "/api/admin/users/"+user.ID+"/sessions", tok, nil)
	if sessions, _ := body["sessions"].([]any); status != 200 || len(sessions) != 0 || len(body["grants"].([]any)) != 0 {
		t.Fatalf("after disable and enable, the ended sessions and grants came back: %v", body)
	}
	for _, path := range []string{"/api/admin/users/nope/enable", "/api/admin/users/nope/sessions"} {
		method := "POST"
		if path == "/api/admin/users/nope/sessions" {
			method = "GET"
		}
		if status, body, _ := api(t, env, method, path, tok, nil); status != http.StatusNotFound || body["error"] != "not_found" {
			t.Errorf("%s %s: %d %v", method, path, status, body)
		}
	}
}

// The admin API edits a user's profile and unlocks a throttled account.
func TestAdminAPIUpdateAndUnlock(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	user := env.CreateUser(t, testEmail, testPassword)
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	status, body, _ := api(t, env, "PATCH", "/api/admin/users/"+user.ID, tok, map[string]any{"name": "Ada", "roles": []string{"ops"}})
	if status != http.StatusOK || body["name"] != "Ada" || len(body["roles"].([]any)) != 1 {
		t.Fatalf("PATCH: %d %v", status, body)
	}
	for _, bad := range []any{map[string]any{}, map[string]any{"email": "x@example.com"}} {
		if status, body, _ := api(t, env, "PATCH", "/api/admin/users/"+user.ID, tok, bad); status != http.StatusBadRequest {
			t.Errorf("PATCH %v: %d %v, want 400", bad, status, body)
		}
	}
	if status, _, _ := api(t, env, "PATCH", "/api/admin/users/nope", tok, map[string]any{"name": "X"}); status != http.StatusNotFound {
		t.Errorf("PATCH unknown: %d", status)
	}
	for range 8 {
		if _, err := env.App.Throttle.Fail(t.Context(), testEmail, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	status, body, _ = api(t, env, "POST", "/api/admin/users/"+user.ID+"/unlock", tok, nil)
	if status != http.StatusOK || body["cleared"] != 1.0 {
		t.Fatalf("unlock: %d %v", status, body)
	}
	if w, _ := env.App.Throttle.Check(t.Context(), testEmail, "192.0.2.1"); w != 0 {
		t.Fatalf("still throttled %v after unlock", w)
	}
}
