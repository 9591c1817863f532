package server_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
	"idp/upstreams"
)

// upstreamBody is a complete, valid POST /api/admin/upstreams body.
func upstreamBody(id string) map[string]any {
	return map[string]any{"id": id, "name": "Corp SSO", "issuer": "https://sso.corp.example", "client_id": "idp-at-corp",
		"secret": upSecret, "scopes": []string{"email", "profile"}, "allowed_domains": []string{"Corp.example"},
		"link_by_email": true, "jit": true, "roles_claim": "groups", "roles_prefix": "idp-", "required_group": "idp-staff"}
}

// noSecretIn fails when a response body carries the client secret or
// its sealed form, under any name.
func noSecretIn(t *testing.T, what string, body map[string]any) {
	t.Helper()
	s := toJSON(t, body)
	for _, bad := range []string{upSecret, "a-new-api-secret", `"secret"`, "sealed", "Sealed"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s: the response carries %s: %s", what, bad, s)
		}
	}
}

// TestAdminAPIUpstreamsAuthorization: every upstream endpoint wants an
// admin's idp:admin token: none or garbage is 401, a non-admin's 403, and
// nothing changes.
func TestAdminAPIUpstreamsAuthorization(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	userTok := adminToken(t, env, testEmail, testPassword, "openid", "idp:admin")
	if _, err := env.App.Upstreams.Create(t.Context(), upstreams.Spec{ID: "kept", Name: "Kept", Issuer: "https://sso.corp.example",
		ClientID: "idp", Secret: upSecret}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/admin/upstreams"}, {"POST", "/api/admin/upstreams"}, {"GET", "/api/admin/upstreams/kept"},
		{"PATCH", "/api/admin/upstreams/kept"}, {"DELETE", "/api/admin/upstreams/kept"},
	} {
		for _, tc := range []struct {
			name, token string
			status      int
		}{{"anonymous", "", 401}, {"garbage", "not.a.token", 401}, {"non-admin", userTok, 403}} {
			body := map[string]any{"id": "sneaky", "name": "Sneaky", "issuer": "https://evil.example", "client_id": "x", "secret": ""}
			status, out, hdr := api(t, env, r.method, r.path, tc.token, body)
			if status != tc.status || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s as %s: %d %v, want %d", r.method, r.path, tc.name, status, out, tc.status)
			}
			noSecretIn(t, r.method+" "+r.path, out)
		}
	}
	if u := storedUpstream(t, env, "kept"); u.Name != "Kept" || u.SecretSealed == nil {
		t.Fatalf("a refused call changed the upstream: %+v", u)
	}
	if n := countUpstreams(t, env); n != 1 {
		t.Fatalf("a refused call created an upstream: %d", n)
	}
}

// TestAdminAPIUpstreams: create, read, patch and delete through the API.
// The secret is write-only (never in a response, has_secret says whether
// there is one); PATCH changes only the fields present, "secret": ""
// removes the secret and an absent one keeps its sealed bytes; bad input
// is 400 with nothing changed, a taken id 409, an unknown one 404.
func TestAdminAPIUpstreams(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")

	status, body, hdr := api(t, env, "POST", "/api/admin/upstreams", tok, upstreamBody("corp"))
	up, _ := body["upstream"].(map[string]any)
	if status != http.StatusCreated || up["id"] != "corp" || up["has_secret"] != true || up["kind"] != "oidc" ||
		up["redirect_uri"] != env.URL+"/login/upstream/corp/callback" || up["client_id"] != "idp-at-corp" ||
		toJSON(t, up["scopes"]) != `["openid","email","profile"]` || toJSON(t, up["allowed_domains"]) != `["corp.example"]` ||
		up["link_by_email"] != true || up["jit"] != true || up["roles_claim"] != "groups" || up["roles_prefix"] != "idp-" ||
		up["required_group"] != "idp-staff" || up["created_at"] == nil || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %v", status, body)
	}
	noSecretIn(t, "create", body)
	sealed := storedUpstream(t, env, "corp").SecretSealed
	if len(sealed) == 0 || bytes.Contains(sealed, []byte(upSecret)) {
		t.Fatalf("the secret is not sealed: %q", sealed)
	}
	public := upstreamBody("public")
	delete(public, "secret")
	if status, body, _ := api(t, env, "POST", "/api/admin/upstreams", tok, public); status != 201 || body["upstream"].(map[string]any)["has_secret"] != false {
		t.Fatalf("public: %d %v", status, body)
	}
	if u := storedUpstream(t, env, "public"); u.SecretSealed != nil {
		t.Fatal("a public client has a sealed secret")
	}

	status, body, _ = api(t, env, "GET", "/api/admin/upstreams", tok, nil)
	if list, _ := body["upstreams"].([]any); status != 200 || len(list) != 2 {
		t.Fatalf("list: %d %v", status, body)
	}
	noSecretIn(t, "list", body)
	status, body, _ = api(t, env, "GET", "/api/admin/upstreams/corp", tok, nil)
	if up, _ := body["upstream"].(map[string]any); status != 200 || up["name"] != "Corp SSO" || up["has_secret"] != true {
		t.Fatalf("get: %d %v", status, body)
	}
	noSecretIn(t, "get", body)

	// Bad input: 400 invalid_request with the reason, nothing created.
	for name, tc := range map[string]struct {
		body  any
		words string
	}{
		"bad id":                     {map[string]any{"id": "Bad/ID"}, "lowercase"},
		"plain http":                 {map[string]any{"issuer": "http://sso.corp.example"}, "must be https"},
		"no client id":               {map[string]any{"client_id": ""}, "client id is required"},
		"no name":                    {map[string]any{"name": "  "}, "name is required"},
		"bad domain":                 {map[string]any{"allowed_domains": []string{"a@b.example"}}, "not a domain"},
		"group, no claim":            {map[string]any{"roles_claim": ""}, "needs the roles claim"},
		"unknown field":              {map[string]any{"has_secret": true}, "unknown field"},
		"kind without its endpoints": {map[string]any{"kind": "oauth2"}, `issuer is not used by kind "oauth2"`},
		"unknown kind":               {map[string]any{"kind": "saml"}, "kind"},
		"bad mapping":                {map[string]any{"claim_mapping": "subject=id"}, `claim mapping field "subject" is not one of`},
		"mapping roles contradicts":  {map[string]any{"claim_mapping": "roles=teams"}, "contradicts the roles claim groups"},
		"wrong type":                 {map[string]any{"jit": "yes"}, "the body must be a JSON upstream"},
		"not an object":              {[]string{"x"}, "the body must be a JSON upstream"},
	} {
		b := tc.body
		if m, ok := tc.body.(map[string]any); ok {
			full := upstreamBody("refused")
			for k, v := range m {
				full[k] = v
			}
			b = full
		}
		status, body, _ := api(t, env, "POST", "/api/admin/upstreams", tok, b)
		desc, _ := body["error_description"].(string)
		if status != 400 || body["error"] != "invalid_request" || !strings.Contains(desc, tc.words) {
			t.Errorf("%s: %d %v", name, status, body)
		}
		noSecretIn(t, name, body)
	}
	if status, body, _ := api(t, env, "POST", "/api/admin/upstreams", tok, upstreamBody("corp")); status != 409 || body["error"] != "conflict" ||
		!strings.Contains(body["error_description"].(string), "already exists") {
		t.Errorf("taken id: %d %v", status, body)
	}
	if n := countUpstreams(t, env); n != 2 {
		t.Fatalf("refused calls created upstreams: %d", n)
	}

	// PATCH: only the fields present change; an absent secret stays.
	status, body, _ = api(t, env, "PATCH", "/api/admin/upstreams/corp", tok, map[string]any{"name": "Corp v2", "jit": false, "scopes": []string{}})
	if up, _ := body["upstream"].(map[string]any); status != 200 || up["name"] != "Corp v2" || up["jit"] != false ||
		up["link_by_email"] != true || up["issuer"] != "https://sso.corp.example" || up["roles_claim"] != "groups" ||
		toJSON(t, up["scopes"]) != `["openid"]` || up["has_secret"] != true {
		t.Fatalf("patch: %d %v", status, body)
	}
	if !bytes.Equal(storedUpstream(t, env, "corp").SecretSealed, sealed) {
		t.Fatal("a patch without a secret changed it")
	}
	status, body, _ = api(t, env, "PATCH", "/api/admin/upstreams/corp", tok, map[string]any{"secret": "a-new-api-secret-1234567"})
	replaced := storedUpstream(t, env, "corp").SecretSealed
	if status != 200 || len(replaced) == 0 || bytes.Equal(replaced, sealed) || bytes.Contains(replaced, []byte("a-new-api-secret")) {
		t.Fatalf("new secret: %d %v", status, body)
	}
	noSecretIn(t, "patch secret", body)
	for name, bad := range map[string]any{
		"empty":           map[string]any{},
		"only nulls":      map[string]any{"name": nil, "secret": nil},
		"plain http":      map[string]any{"name": "Refused", "issuer": "http://evil.example"},
		"group, no claim": map[string]any{"name": "Refused", "roles_claim": ""},
		"unknown field":   map[string]any{"name": "Refused", "id": "renamed"},
		"wrong type":      map[string]any{"name": "Refused", "scopes": "email"},
	} {
		status, body, _ := api(t, env, "PATCH", "/api/admin/upstreams/corp", tok, bad)
		if status != 400 || body["error"] != "invalid_request" {
			t.Errorf("patch %s: %d %v", name, status, body)
		}
	}
	if u := storedUpstream(t, env, "corp"); u.Name != "Corp v2" || u.Issuer != "https://sso.corp.example" || !bytes.Equal(u.SecretSealed, replaced) {
		t.Fatalf("a refused patch changed it: %+v", u)
	}
	status, body, _ = api(t, env, "PATCH", "/api/admin/upstreams/corp", tok, map[string]any{"secret": ""})
	if up, _ := body["upstream"].(map[string]any); status != 200 || up["has_secret"] != false {
		t.Fatalf("remove secret: %d %v", status, body)
	}
	if u := storedUpstream(t, env, "corp"); u.SecretSealed != nil {
		t.Fatal("\"secret\": \"\" did not remove the secret")
	}

	// Unknown upstreams: 404 everywhere.
	for _, method := range []string{"GET", "PATCH", "DELETE"} {
		if status, body, _ := api(t, env, method, "/api/admin/upstreams/ghost", tok, map[string]any{"name": "x"}); status != 404 || body["error"] != "not_found" {
			t.Errorf("%s ghost: %d %v", method, status, body)
		}
	}

	// DELETE, then it is gone.
	if status, _, _ := api(t, env, "DELETE", "/api/admin/upstreams/corp", tok, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := api(t, env, "GET", "/api/admin/upstreams/corp", tok, nil); status != 404 {
		t.Fatalf("deleted: %d", status)
	}
	if status, _, _ := api(t, env, "DELETE", "/api/admin/upstreams/corp", tok, nil); status != 404 {
		t.Fatalf("deleted twice: %d", status)
	}
	for action, want := range map[string]int{"upstream.create": 1, "upstream.update": 3, "upstream.delete": 1} {
		evs := upstreamEvents(t, env, action, "corp")
		if len(evs) != want {
			t.Errorf("%d %s events, want %d", len(evs), action, want)
		}
		for _, e := range evs {
			if e.Actor != adminEmail || e.Via != "api" {
				t.Errorf("%s by %s via %s", action, e.Actor, e.Via)
			}
		}
	}
}

// TestAdminAPIUpstreamSecretSignsIn: the secret written through the API
// is the one idp presents at the upstream. An upstream added by API with
// b's client secret signs people in; "secret": "" makes idp a public
// client, which b (a confidential registration) refuses, with nothing
// created; a new secret makes it work again.
func TestAdminAPIUpstreamSecretSignsIn(t *testing.T) {
	logs := &lockedBuffer{}
	b := servertest.New(t)
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	a.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, a, adminEmail, adminPassword, "openid", "idp:admin")
	_, secret := b.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true, RedirectURIs: []string{a.URL + upstreams.CallbackPath("corp")}})
	status, body, _ := api(t, a, "POST", "/api/admin/upstreams", tok, map[string]any{"id": "corp", "name": "Corp", "issuer": b.URL,
		"client_id": "idp-a", "secret": secret, "scopes": []string{"email", "profile"}, "jit": true})
	if up, _ := body["upstream"].(map[string]any); status != 201 || up["redirect_uri"] != a.URL+upstreams.CallbackPath("corp") {
		t.Fatalf("create: %d %v", status, body)
	}
	f := &fed{a: a, b: b, rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), br: a.Browser(t), log: logs}
	b.CreateUser(t, fedEmail, fedPassword)

	if status, body, _ := api(t, a, "PATCH", "/api/admin/upstreams/corp", tok, map[string]any{"secret": ""}); status != 200 {
		t.Fatalf("remove secret: %d %v", status, body)
	}
	usersBefore, _ := f.counts(t)
	f.refused(t, f.toCallback(t, fedEmail, fedPassword), http.StatusBadGateway, "did not answer as expected", "invalid_client")
	if n, links := f.counts(t); n != usersBefore || links != 0 {
		t.Fatalf("a refused sign-in made %d users, %d links", n-usersBefore, links)
	}

	if status, body, _ := api(t, a, "PATCH", "/api/admin/upstreams/corp", tok, map[string]any{"secret": secret}); status != 200 {
		t.Fatalf("set secret: %d %v", status, body)
	}
	f.br = a.Browser(t)
	claims := f.finish(t, f.toCallback(t, fedEmail, fedPassword))
	if user, err := a.Users.Store().ByEmail(t.Context(), fedEmail); err != nil || claims["sub"] != user.ID {
		t.Fatalf("signed in as %v, user %+v %v", claims["sub"], user, err)
	}
	// The upstream now counts the account linked through it, in the API
	// and on the list page.
	status, body, _ = api(t, a, "GET", "/api/admin/upstreams/corp", tok, nil)
	if up, _ := body["upstream"].(map[string]any); status != 200 || up["linked_accounts"] != float64(1) {
		t.Fatalf("linked_accounts: %d %v", status, body)
	}
	status, body, _ = api(t, a, "GET", "/api/admin/upstreams", tok, nil)
	if list, _ := body["upstreams"].([]any); status != 200 || len(list) != 1 || list[0].(map[string]any)["linked_accounts"] != float64(1) {
		t.Fatalf("list linked_accounts: %d %v", status, body)
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("the log carries the client secret")
	}
}

// TestAdminAPIUpstreamKinds: plain OAuth 2.0 and GitHub upstreams with a
// claim mapping are created and patched through the API as with
// `idp upstreams`: the endpoints and the mapping come back, a patched
// mapping changes only the fields it names, and the kind never changes.
func TestAdminAPIUpstreamKinds(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	status, body, _ := api(t, env, "POST", "/api/admin/upstreams", tok, map[string]any{"id": "wiki", "name": "Wiki",
		"kind": "oauth2", "auth_url": "https://wiki.example/oauth/authorize", "token_url": "https://wiki.example/oauth/token",
		"userinfo_url": "https://wiki.example/api/me", "client_id": "idp", "secret": upSecret,
		"claim_mapping": "sub=id,email=mail,name=display_name", "jit": true})
	up, _ := body["upstream"].(map[string]any)
	if status != http.StatusCreated || up["kind"] != "oauth2" || up["auth_url"] != "https://wiki.example/oauth/authorize" ||
		up["userinfo_url"] != "https://wiki.example/api/me" || up["claim_mapping"] != "email=mail,name=display_name,sub=id" ||
		up["issuer"] != nil {
		t.Fatalf("create oauth2: %d %v", status, body)
	}
	noSecretIn(t, "create oauth2", body)
	if u := storedUpstream(t, env, "wiki"); u.Claims.Sub != "id" || u.Claims.Email != "mail" || u.Claims.EmailVerified != "" {
		t.Fatalf("stored mapping %+v", u.Claims)
	}
	status, body, _ = api(t, env, "PATCH", "/api/admin/upstreams/wiki", tok, map[string]any{"claim_mapping": "name=,email_verified=mail_ok"})
	if up, _ := body["upstream"].(map[string]any); status != 200 || up["claim_mapping"] != "email=mail,email_verified=mail_ok,sub=id" {
		t.Fatalf("patch mapping: %d %v", status, body)
	}
	if status, body, _ = api(t, env, "PATCH", "/api/admin/upstreams/wiki", tok, map[string]any{"kind": "github"}); status != 400 {
		t.Fatalf("the kind changed: %d %v", status, body)
	}
	status, body, _ = api(t, env, "POST", "/api/admin/upstreams", tok, map[string]any{"id": "gh", "name": "GitHub",
		"kind": "github", "github_url": "https://github.example.com", "client_id": "Iv1.abc", "secret": upSecret,
		"scopes": []string{"read:org"}, "roles_claim": "groups", "required_group": "acme/staff"})
	if up, _ := body["upstream"].(map[string]any); status != http.StatusCreated || up["kind"] != "github" ||
		up["github_url"] != "https://github.example.com" || up["redirect_uri"] != env.URL+"/login/upstream/gh/callback" {
		t.Fatalf("create github: %d %v", status, body)
	}
	if status, body, _ = api(t, env, "POST", "/api/admin/upstreams", tok, map[string]any{"id": "gh2", "name": "GitHub",
		"kind": "github", "issuer": "https://github.com", "client_id": "x"}); status != 400 {
		t.Fatalf("github with an issuer: %d %v", status, body)
	}
}
