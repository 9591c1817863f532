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
