package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/admin"
	"idp/audit"
	"idp/server"
	"idp/server/servertest"
)

// register sends an RFC 7591/7592 request with an optional bearer token.
func register(t *testing.T, env *servertest.Env, method, path, token string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, env.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// initialToken makes an initial access token through the admin layer.
func initialToken(t *testing.T, env *servertest.Env, ttl time.Duration, uses int) string {
	t.Helper()
	tok, _, err := env.App.Admin.CreateRegistrationToken(context.Background(), audit.Actor{Name: "test", Via: audit.ViaCLI}, ttl, uses)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func countClientRows(t *testing.T, env *servertest.Env) int64 {
	t.Helper()
	var n int64
	if err := env.DB.Gorm.Table("clients").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRegistrationWithInitialToken: the default mode. Without a token, or
// with a bad, spent or expired one, nothing registers (401); with one, a
// confidential client comes back with its secret and an RFC 7592 handle,
// and works at the token endpoint at once.
func TestRegistrationWithInitialToken(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	md := map[string]any{"client_name": "Acme CI", "grant_types": []string{"client_credentials"}, "scope": "api",
		"contacts": []string{"ops@acme.example"}, "software_id": "ignored-but-allowed", "unknown_member": 7}
	if status, body, hdr := register(t, env, "POST", "/register", "", md); status != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("without a token: %d %v %v", status, body, hdr)
	}
	if status, body, hdr := register(t, env, "POST", "/register", "not-a-token", md); status != 401 || body["error"] != "invalid_token" ||
		!strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("a bad token: %d %v", status, body)
	}
	tok := initialToken(t, env, time.Hour, 1)
	before := countClientRows(t, env)
	// A refused registration does not spend the token's one use.
	if status, body, _ := register(t, env, "POST", "/register", tok, map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}); status != 400 || body["error"] != "invalid_redirect_uri" {
		t.Fatalf("bad redirect: %d %v", status, body)
	}
	status, body, hdr := register(t, env, "POST", "/register", tok, md)
	if status != 201 || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("register: %d %v", status, body)
	}
	id, _ := body["client_id"].(string)
	secret, _ := body["client_secret"].(string)
	regTok, _ := body["registration_access_token"].(string)
	if id == "" || len(secret) != 43 || len(regTok) != 43 || body["registration_client_uri"] != env.URL+"/register/"+id ||
		body["client_secret_expires_at"] != float64(0) || body["token_endpoint_auth_method"] != "client_secret_basic" ||
		body["client_name"] != "Acme CI" || body["client_id_issued_at"] == nil || body["unknown_member"] != nil {
		t.Fatalf("registration response %v", body)
	}
	if n := countClientRows(t, env); n != before+1 {
		t.Fatalf("%d clients, want %d", n, before+1)
	}
	if r := callAPI(t, env, "/token", creds{id, secret}, url.Values{"grant_type": {"client_credentials"}}); r.status != 200 {
		t.Fatalf("the registered client at the token endpoint: %d %s", r.status, r.raw)
	}
	if status, body, _ := register(t, env, "POST", "/register", tok, md); status != 401 || body["error"] != "invalid_token" {
		t.Fatalf("a used-up token: %d %v", status, body)
	}
	expiring := initialToken(t, env, time.Minute, 5)
	env.Clock.Advance(2 * time.Minute)
	if status, _, _ := register(t, env, "POST", "/register", expiring, md); status != 401 {
		t.Fatalf("an expired token: %d", status)
	}
	events, _ := env.Audit.List(context.Background(), time.Time{}, 100)
	found := false
	for _, e := range events {
		if e.Action == "client.registered" && e.Target == id && strings.Contains(e.Detail, "how=token") {
			found = true
		}
		if strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, tok) || strings.Contains(e.Detail, regTok) {
			t.Fatalf("a secret in the audit log: %+v", e)
		}
	}
	if !found {
		t.Fatalf("no client.registered event: %+v", events)
	}
}

// TestRegistrationRefusals: RFC 7591 §3.2.2's error for each bad request,
// and nothing stored or spent.
func TestRegistrationRefusals(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tok := initialToken(t, env, time.Hour, 100)
	ok := []string{"https://app.example/cb"}
	cases := []struct {
		name string
		body any
		code string
	}{
		{"no redirect_uris for the code flow", map[string]any{"client_name": "x"}, "invalid_redirect_uri"},
		{"http redirect off loopback", map[string]any{"redirect_uris": []string{"http://app.example/cb"}}, "invalid_redirect_uri"},
		{"fragment", map[string]any{"redirect_uris": []string{"https://app.example/cb#x"}}, "invalid_redirect_uri"},
		{"javascript:", map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, "invalid_redirect_uri"},
		{"data:", map[string]any{"redirect_uris": []string{"data:text/html,hi"}}, "invalid_redirect_uri"},
		{"bad post-logout URI", map[string]any{"redirect_uris": ok, "post_logout_redirect_uris": []string{"ftp://x"}}, "invalid_redirect_uri"},
		{"jwks and jwks_uri", map[string]any{"redirect_uris": ok, "jwks_uri": "https://app.example/jwks", "jwks": map[string]any{"keys": []any{}}}, "invalid_client_metadata"},
		{"jwks_uri", map[string]any{"redirect_uris": ok, "jwks_uri": "https://app.example/jwks"}, "invalid_client_metadata"},
		{"unknown auth method", map[string]any{"redirect_uris": ok, "token_endpoint_auth_method": "tls_client_auth"}, "invalid_client_metadata"},
		{"response type token", map[string]any{"redirect_uris": ok, "response_types": []string{"token"}}, "invalid_client_metadata"},
		{"unknown grant", map[string]any{"redirect_uris": ok, "grant_types": []string{"password"}}, "invalid_client_metadata"},
		{"refresh without code", map[string]any{"grant_types": []string{"refresh_token"}}, "invalid_client_metadata"},
		{"client_credentials for a public client", map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "none"}, "invalid_client_metadata"},
		{"http logo", map[string]any{"redirect_uris": ok, "logo_uri": "http://app.example/logo.png"}, "invalid_client_metadata"},
		{"logo over the limit", map[string]any{"redirect_uris": ok, "logo_uri": "data:image/png;base64," + strings.Repeat("A", 33000)}, "invalid_client_metadata"},
		{"bad alg", map[string]any{"redirect_uris": ok, "id_token_signed_response_alg": "none"}, "invalid_client_metadata"},
		{"idp:admin", map[string]any{"redirect_uris": ok, "scope": "openid idp:admin"}, "invalid_client_metadata"},
		{"a secret chosen by the client", map[string]any{"redirect_uris": ok, "client_secret": strings.Repeat("s", 40)}, "invalid_client_metadata"},
		{"not JSON", "redirect_uris=https://app.example/cb", "invalid_client_metadata"},
		{"JSON array", `["https://app.example/cb"]`, "invalid_client_metadata"},
	}
	before := countClientRows(t, env)
	for _, tc := range cases {
		status, body, hdr := register(t, env, "POST", "/register", tok, tc.body)
		if status != 400 || body["error"] != tc.code || hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v, want 400 %s", tc.name, status, body, tc.code)
		}
	}
	if n := countClientRows(t, env); n != before {
		t.Fatalf("refusals stored %d clients", n-before)
	}
	var left int
	if err := env.DB.Gorm.Raw("SELECT uses_left FROM registration_tokens").Scan(&left).Error; err != nil || left != 100 {
		t.Fatalf("refusals spent the token: %d left, %v", left, err)
	}
}

// TestRegistrationManagement: RFC 7592 read, update and delete, each only
// with the client's own registration access token.
func TestRegistrationManagement(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tok := initialToken(t, env, time.Hour, 2)
	_, a, _ := register(t, env, "POST", "/register", tok, map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "client_name": "A"})
	_, b, _ := register(t, env, "POST", "/register", tok, map[string]any{"redirect_uris": []string{"https://b.example/cb"}, "client_name": "B"})
	aID, aTok := a["client_id"].(string), a["registration_access_token"].(string)
	bTok := b["registration_access_token"].(string)
	path := "/register/" + aID
	status, got, _ := register(t, env, "GET", path, aTok, nil)
	if status != 200 || got["client_name"] != "A" || got["client_secret"] != nil || got["registration_access_token"] != nil {
		t.Fatalf("read: %d %v", status, got)
	}
	for name, bad := range map[string]string{"none": "", "another client's": bTok, "garbage": "x"} {
		if status, body, _ := register(t, env, "GET", path, bad, nil); status != 401 || (bad != "" && body["error"] != "invalid_token") {
			t.Errorf("read with %s token: %d %v", name, status, body)
		}
	}
	if status, _, _ := register(t, env, "GET", "/register/nobody", aTok, nil); status != 401 {
		t.Errorf("read an unknown client: %d", status)
	}
	// An admin's choices survive the client's own updates.
	yes := true
	if _, err := env.App.Admin.UpdateClient(context.Background(), audit.Actor{Name: "test", Via: audit.ViaCLI}, aID,
		admin.ClientUpdate{Trusted: &yes, RequireMFA: &yes, RequireVerifiedEmail: &yes}); err != nil {
		t.Fatal(err)
	}
	update := map[string]any{"client_id": aID, "redirect_uris": []string{"https://a.example/cb", "https://a.example/cb2"},
		"client_name": "A renamed", "logo_uri": "https://cdn.a.example/logo.png", "client_secret": a["client_secret"],
		"registration_access_token": aTok}
	status, got, _ = register(t, env, "PUT", path, aTok, update)
	if status != 200 || got["client_name"] != "A renamed" || len(got["redirect_uris"].([]any)) != 2 {
		t.Fatalf("update: %d %v", status, got)
	}
	if c, err := env.Clients.Store().ByID(context.Background(), aID); err != nil || !c.Trusted || !c.RequireMFA || !c.RequireVerifiedEmail {
		t.Fatalf("an update through the registration dropped an admin's settings: %+v, %v", c, err)
	}
	if status, body, _ := register(t, env, "PUT", path, aTok, map[string]any{"client_id": aID, "redirect_uris": []string{"https://a.example/cb"},
		"client_secret": strings.Repeat("x", 43)}); status != 400 || body["error"] != "invalid_client_metadata" {
		t.Errorf("update with a wrong secret: %d %v", status, body)
	}
	if status, body, _ := register(t, env, "PUT", path, aTok, map[string]any{"client_id": aID, "redirect_uris": []string{"https://a.example/cb"},
		"scope": "openid idp:admin"}); status != 400 || body["error"] != "invalid_client_metadata" {
		t.Errorf("update asking for idp:admin: %d %v", status, body)
	}
	if status, _, _ := register(t, env, "PUT", path, bTok, update); status != 401 {
		t.Errorf("update with another client's token: %d", status)
	}
	wrongID := map[string]any{"client_id": "other", "redirect_uris": []string{"https://a.example/cb"}}
	if status, body, _ := register(t, env, "PUT", path, aTok, wrongID); status != 400 || body["error"] != "invalid_client_metadata" {
		t.Errorf("update naming another id: %d %v", status, body)
	}
	badURI := map[string]any{"client_id": aID, "redirect_uris": []string{"http://a.example/cb"}}
	if status, body, _ := register(t, env, "PUT", path, aTok, badURI); status != 400 || body["error"] != "invalid_redirect_uri" {
		t.Errorf("update with a bad URI: %d %v", status, body)
	}
	if _, got, _ := register(t, env, "GET", path, aTok, nil); got["client_name"] != "A renamed" {
		t.Errorf("a refused update changed the client: %v", got)
	}
	if status, _, _ := register(t, env, "DELETE", path, bTok, nil); status != 401 {
		t.Errorf("delete with another client's token: %d", status)
	}
	if status, _, _ := register(t, env, "DELETE", path, aTok, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := register(t, env, "GET", path, aTok, nil); status != 401 {
		t.Errorf("read after delete: %d", status)
	}
	if _, err := env.Clients.Store().ByID(context.Background(), aID); err == nil {
		t.Error("the deleted client is still stored")
	}
}

// TestOpenRegistration: anyone may register, but only a public code-flow
// client, never trusted; an address is throttled; unused registrations are
// purged after the idle time, used ones stay.
func TestOpenRegistration(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.Registration = "open"; c.RegistrationIdleTTL = 48 * time.Hour })
	cb := []string{"http://127.0.0.1/callback"}
	for name, md := range map[string]map[string]any{
		"confidential":       {"redirect_uris": cb, "token_endpoint_auth_method": "client_secret_basic"},
		"client_credentials": {"grant_types": []string{"client_credentials"}},
		"admin scope":        {"redirect_uris": cb, "scope": "openid idp:admin"},
	} {
		if status, body, _ := register(t, env, "POST", "/register", "", md); status != 400 || body["error"] != "invalid_client_metadata" {
			t.Errorf("%s under open registration: %d %v", name, status, body)
		}
	}
	status, body, _ := register(t, env, "POST", "/register", "", map[string]any{"redirect_uris": cb, "client_name": "MCP Inspector"})
	if status != 201 || body["token_endpoint_auth_method"] != "none" || body["client_secret"] != nil {
		t.Fatalf("open registration: %d %v", status, body)
	}
	used := body["client_id"].(string)
	c, err := env.Clients.Store().ByID(context.Background(), used)
	if err != nil || !c.Public || c.Trusted || c.Registration != "open" {
		t.Fatalf("stored %+v, %v", c, err)
	}
	_, idle, _ := register(t, env, "POST", "/register", "", map[string]any{"redirect_uris": cb})
	idleID := idle["client_id"].(string)
	throttled := false
	for range 15 {
		status, _, hdr := register(t, env, "POST", "/register", "", map[string]any{"redirect_uris": cb})
		if status == 429 {
			throttled = hdr.Get("Retry-After") != ""
			break
		}
	}
	if !throttled {
		t.Fatal("an address registered 17 clients without a pause")
	}
	// The used client obtains a token (a code flow), a day later.
	env.Clock.Advance(24 * time.Hour)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	verifier := oauth2.GenerateVerifier()
	loc := env.Authorize(t, b, "/authorize?"+url.Values{"client_id": {used}, "redirect_uri": {cb[0]}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}.Encode(),
		testEmail, testPassword)
	r := callAPI(t, env, "/token", creds{id: used}, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {cb[0]}, "code_verifier": {verifier}})
	if r.status != 200 {
		t.Fatalf("code flow of an open registration: %d %s", r.status, r.raw)
	}
	env.Clock.Advance(25*time.Hour + time.Minute) // idle 49 h, used 25 h ago
	if _, err := env.App.Purge(context.Background(), 500); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clients.Store().ByID(context.Background(), idleID); err == nil {
		t.Error("an unused open registration outlived --registration-idle-ttl")
	}
	if _, err := env.Clients.Store().ByID(context.Background(), used); err != nil {
		t.Errorf("a used open registration was purged: %v", err)
	}
}

// TestRegistrationClosedAndDiscovery: discovery names the endpoint only
// when it is on; closed answers 404.
func TestRegistrationClosedAndDiscovery(t *testing.T) {
	t.Parallel()
	on := servertest.New(t)
	_, doc := get(t, on.URL+"/.well-known/openid-configuration")
	if !strings.Contains(string(doc), `"registration_endpoint": "`+on.URL+`/register"`) {
		t.Errorf("discovery lacks the registration endpoint: %s", doc)
	}
	off := servertest.New(t, func(c *server.Config) { c.Registration = "closed" })
	_, doc = get(t, off.URL+"/.well-known/openid-configuration")
	if strings.Contains(string(doc), "registration_endpoint") {
		t.Errorf("closed registration in discovery: %s", doc)
	}
	if status, _, _ := register(t, off, "POST", "/register", "", map[string]any{"redirect_uris": []string{"https://a.example/cb"}}); status != 404 {
		t.Errorf("closed registration: %d", status)
	}
}
