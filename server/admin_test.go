package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
)

const adminEmail, adminPassword = "root@example.com", "admin password 123"

// adminClients numbers the console clients adminToken registers.
var adminClients int

// adminToken signs a user in to a trusted client allowed idp:admin and
// returns the access token it got.
func adminToken(t *testing.T, env *servertest.Env, email, password string, scopes ...string) string {
	t.Helper()
	adminClients++
	app := newRPWithScopes(t, env, clients.Spec{ID: fmt.Sprintf("console-%d", adminClients), Trusted: true,
		Scopes: []string{"openid", "email", "idp:admin"}}, scopes)
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), email, password)
	tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func newRPWithScopes(t *testing.T, env *servertest.Env, spec clients.Spec, scopes []string) *rp {
	t.Helper()
	app := newRP(t, env, spec)
	app.conf.Scopes = scopes
	return app
}

// api calls the admin API with a bearer token.
func api(t *testing.T, env *servertest.Env, method, path, token string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, env.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func TestAdminAPIAuthorization(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	env.CreateUser(t, testEmail, testPassword)
	adminTok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	// The same admin, but a token without idp:admin: what a relying
	// service would hold.
	rpTok := adminToken(t, env, adminEmail, adminPassword, "openid")
	// A non-admin who asked for idp:admin does not get it.
	userTok := adminToken(t, env, testEmail, testPassword, "openid", "idp:admin")

	routes := []struct{ method, path string }{
		{"GET", "/api/admin/keys"}, {"POST", "/api/admin/keys/rotate"}, {"POST", "/api/admin/keys/x/revoke"},
		{"GET", "/api/admin/users"}, {"POST", "/api/admin/users"}, {"POST", "/api/admin/users/x/disable"},
		{"POST", "/api/admin/users/x/enable"}, {"GET", "/api/admin/users/x/sessions"},
		{"PATCH", "/api/admin/users/x"}, {"POST", "/api/admin/users/x/unlock"},
		{"GET", "/api/admin/clients"}, {"POST", "/api/admin/clients"}, {"DELETE", "/api/admin/clients/x"},
		{"PATCH", "/api/admin/clients/x"}, {"POST", "/api/admin/clients/x/secret"},
		{"POST", "/api/admin/users/invite"}, {"POST", "/api/admin/users/x/send-reset"},
		{"GET", "/api/admin/audit"},
	}
	for _, r := range routes {
		for _, tc := range []struct {
			name, token string
			status      int
		}{
			{"anonymous", "", 401}, {"garbage", "not.a.token", 401}, {"rp token", rpTok, 403}, {"non-admin", userTok, 403},
		} {
			status, body, hdr := api(t, env, r.method, r.path, tc.token, nil)
			if status != tc.status {
				t.Errorf("%s %s as %s: %d %v, want %d", r.method, r.path, tc.name, status, body, tc.status)
			}
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s as %s: WWW-Authenticate %q", r.method, r.path, tc.name, hdr.Get("WWW-Authenticate"))
			}
		}
	}
	if status, body, _ := api(t, env, "GET", "/api/admin/keys", adminTok, nil); status != 200 || len(body["keys"].([]any)) != 4 {
		t.Fatalf("admin lists keys: %d %v", status, body)
	}
}

func TestAdminAPIRotateRevokeAndAudit(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")

	status, body, _ := api(t, env, "POST", "/api/admin/keys/rotate", tok, map[string]any{"alg": "RS256"})
	if status != http.StatusConflict || body["error"] != "rotation_too_early" || body["safe_at"] == nil {
		t.Fatalf("early rotation: %d %v", status, body)
	}
	if status, body, _ = api(t, env, "POST", "/api/admin/keys/rotate", tok, map[string]any{"alg": "HS256"}); status != 400 {
		t.Fatalf("unknown alg: %d %v", status, body)
	}
	status, body, _ = api(t, env, "POST", "/api/admin/keys/rotate", tok, map[string]any{"alg": "RS256", "force": true})
	if status != 200 {
		t.Fatalf("forced rotation: %d %v", status, body)
	}
	activated := body["activated"].(map[string]any)["kid"].(string)
	env.Clock.Advance(6 * time.Second) // past the key cache interval
	if _, err := http.Get(env.URL + "/.well-known/jwks.json"); err != nil {
		t.Fatal(err)
	}
	status, _, _ = api(t, env, "POST", "/api/admin/keys/"+url.PathEscape(activated)+"/revoke", tok, nil)
	if status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _, _ = api(t, env, "POST", "/api/admin/keys/"+url.PathEscape(activated)+"/revoke", tok, nil); status != http.StatusConflict {
		t.Fatalf("second revoke: %d, want 409", status)
	}
	if status, _, _ = api(t, env, "POST", "/api/admin/keys/nope/revoke", tok, nil); status != 404 {
		t.Fatalf("unknown kid: %d, want 404", status)
	}
	status, body, _ = api(t, env, "GET", "/api/admin/audit", tok, nil)
	if status != 200 {
		t.Fatal(status)
	}
	var actions []string
	for _, e := range body["events"].([]any) {
		ev := e.(map[string]any)
		actions = append(actions, ev["action"].(string)+"/"+ev["via"].(string)+"/"+ev["actor"].(string))
	}
	joined := strings.Join(actions, " ")
	for _, want := range []string{"key.rotated/api/" + adminEmail, "key.revoked/api/" + adminEmail, "signin.success/web/" + adminEmail} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %s: %s", want, joined)
		}
	}
	// The forced rotation is audited as forced.
	forced := false
	for _, e := range body["events"].([]any) {
		ev := e.(map[string]any)
		forced = forced || ev["action"] == "key.rotated" && strings.HasSuffix(ev["detail"].(string), " forced")
	}
	if !forced {
		t.Errorf("the forced rotation is not audited as forced: %s", joined)
	}
}

func TestAdminPagesRefuseOthers(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	pages := []struct{ method, path string }{
		{"GET", "/admin"}, {"GET", "/admin/keys"}, {"POST", "/admin/keys/rotate"}, {"POST", "/admin/keys/revoke"},
		{"GET", "/admin/users"}, {"POST", "/admin/users"}, {"POST", "/admin/users/disable"},
		{"GET", "/admin/clients"}, {"POST", "/admin/clients"}, {"POST", "/admin/clients/delete"}, {"GET", "/admin/audit"},
	}
	anon := env.Browser(t)
	user := env.Browser(t)
	signInDirect(t, env, user, testEmail, testPassword)
	for _, p := range pages {
		req, _ := http.NewRequest(p.method, env.URL+p.path, strings.NewReader(""))
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("anonymous %s %s: %d %s", p.method, p.path, resp.StatusCode, resp.Header.Get("Location"))
		}
		req, _ = http.NewRequest(p.method, env.URL+p.path, strings.NewReader(""))
		resp, err = user.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("non-admin %s %s: %d", p.method, p.path, resp.StatusCode)
		}
	}
}

// signInDirect signs a browser in through /login without a client.
func signInDirect(t *testing.T, env *servertest.Env, b *http.Client, email, password string) {
	t.Helper()
	_, page := env.Get(t, b, "/login")
	resp, _ := env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
}

func TestAdminWebRotateNeedsConfirmation(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	b := env.Browser(t)
	signInDirect(t, env, b, adminEmail, adminPassword)
	_, page := env.Get(t, b, "/admin/keys")
	if page.Status != 200 || !strings.Contains(page.Body, "<svg") {
		t.Fatalf("keys page: %d", page.Status)
	}
	before, _ := env.Keys.List(context.Background())
	// First POST: a confirmation page, nothing rotated; it warns that it is too early.
	resp, conf := env.PostForm(t, b, "/admin/keys/rotate", url.Values{"csrf_token": {page.CSRF()}, "alg": {"ES256"}})
	if resp.StatusCode != 200 || !strings.Contains(conf.Body, "Rotate anyway") {
		t.Fatalf("confirmation: %d %.300s", resp.StatusCode, conf.Body)
	}
	if after, _ := env.Keys.List(context.Background()); len(after) != len(before) {
		t.Fatal("rotated before confirmation")
	}
	// Missing CSRF: refused, nothing rotated.
	resp, _ = env.PostForm(t, b, "/admin/keys/rotate", url.Values{"alg": {"ES256"}, "confirm": {"yes"}, "force": {"1"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF: %d", resp.StatusCode)
	}
	resp, _ = env.PostForm(t, b, "/admin/keys/rotate", url.Values{"csrf_token": {conf.CSRF()}, "alg": {"ES256"}, "confirm": {"yes"}, "force": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed rotation: %d", resp.StatusCode)
	}
	after, _ := env.Keys.List(context.Background())
	if len(after) != len(before)+1 {
		t.Fatalf("keys %d -> %d, want one more", len(before), len(after))
	}
}
