package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/clients"
	"idp/server/servertest"
)

// tinyPNG is a 1x1 transparent PNG.
var tinyPNG = "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte{
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1,
	8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5,
	0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82})

// TestConsentShowsClientBrand: the consent and sign-in pages show the
// client's name (escaped), logo and links; an https logo's origin, and only
// that, joins the page's img-src.
func TestConsentShowsClientBrand(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "notes", Name: `Acme <Notes> & "Co"`, RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{LogoURI: "https://cdn.acme.example/logo.png", ClientURI: "https://notes.acme.example/",
			PolicyURI: "https://notes.acme.example/privacy", TOSURI: "https://notes.acme.example/terms"}})
	env.CreateClient(t, clients.Spec{ID: "inline", Name: "Inline", RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{LogoURI: tinyPNG}})
	b := env.Browser(t)
	u := "/authorize?" + url.Values{"client_id": {"notes"}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}}.Encode()
	resp, page := env.Get(t, b, u)
	if resp.StatusCode == http.StatusSeeOther {
		resp, page = env.Get(t, b, resp.Header.Get("Location"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(page.Body, `<img class="client-logo" src="https://cdn.acme.example/logo.png"`) ||
		!strings.Contains(page.Body, "Sign in to continue to Acme &lt;Notes&gt; &amp; &#34;Co&#34;") ||
		!strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example;") {
		t.Fatalf("sign-in page: CSP %q\n%.2500s", csp, page.Body)
	}
	resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()},
		"email": {testEmail}, "password": {testPassword}})
	resp, page = env.Get(t, b, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page.Body, "wants to access your account") {
		t.Fatalf("consent: %d %.1500s", resp.StatusCode, page.Body)
	}
	for _, want := range []string{`src="https://cdn.acme.example/logo.png"`, `href="https://notes.acme.example/privacy"`,
		`href="https://notes.acme.example/terms"`, `>notes.acme.example</a>`, "privacy policy</a> and the", "terms of service</a> of"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "https://cdn.acme.example") {
		t.Errorf("consent CSP %q", csp)
	}
	// A data: logo is inlined as it is; html/template must not have
	// replaced it, and img-src needs no new origin.
	u = strings.Replace(u, "client_id=notes", "client_id=inline", 1)
	resp, page = env.Get(t, env.Browser(t), u)
	if resp.StatusCode == http.StatusSeeOther {
		resp, page = env.Get(t, b, resp.Header.Get("Location"))
	}
	if !strings.Contains(page.Body, `src="`+tinyPNG+`"`) || strings.Contains(page.Body, "ZgotmplZ") ||
		resp.Header.Get("Content-Security-Policy") != strings.Replace(resp.Header.Get("Content-Security-Policy"), "cdn", "", 1) {
		t.Fatalf("data logo page: %.2500s", page.Body)
	}
}

// TestPinnedTokenEndpointAuthMethod: a client registered for one secret
// method is refused with the other (invalid_client, nothing issued); an
// unpinned one may use either.
func TestPinnedTokenEndpointAuthMethod(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	cc := clients.Spec{GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api"}}
	pin := func(id, method string) creds {
		s := cc
		s.ID, s.TokenEndpointAuthMethod = id, method
		_, secret := env.CreateClient(t, s)
		return creds{id, secret}
	}
	basic, post, either := pin("basic-only", clients.AuthSecretBasic), pin("post-only", clients.AuthSecretPost), pin("either", "")
	form := func(c creds, inBody bool) apiResult {
		f := url.Values{"grant_type": {"client_credentials"}}
		if inBody {
			f.Set("client_id", c.id)
			f.Set("client_secret", c.secret)
			return callAPI(t, env, "/token", creds{}, f)
		}
		return callAPI(t, env, "/token", c, f)
	}
	for _, tc := range []struct {
		name   string
		c      creds
		inBody bool
		ok     bool
	}{
		{"basic client with Basic", basic, false, true},
		{"basic client in the body", basic, true, false},
		{"post client in the body", post, true, true},
		{"post client with Basic", post, false, false},
		{"unpinned with Basic", either, false, true},
		{"unpinned in the body", either, true, true},
	} {
		r := form(tc.c, tc.inBody)
		switch {
		case tc.ok && r.status != http.StatusOK:
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		case !tc.ok:
			if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" || r.str("access_token") != "" {
				t.Errorf("%s: %d %s, want 401 invalid_client", tc.name, r.status, r.raw)
			}
		}
	}
}

// TestDefaultMaxAge: a client's default_max_age asks for a fresh sign-in
// when the session is older and the request says nothing; a request's own
// max_age still wins.
func TestDefaultMaxAge(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: "strict", Trusted: true, RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{DefaultMaxAge: 600}})
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	authz := func(extra string) *http.Response {
		resp, _ := env.Get(t, b, "/authorize?"+url.Values{"client_id": {"strict"}, "redirect_uri": {testRedirect},
			"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}.Encode()+extra)
		return resp
	}
	if loc := authz("").Header.Get("Location"); !strings.HasPrefix(loc, testRedirect) {
		t.Fatalf("a fresh session should go straight back: %s", loc)
	}
	env.Clock.Advance(11 * time.Minute)
	if loc := authz("").Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("a session older than default_max_age should sign in again: %s", loc)
	}
	if loc := authz("&max_age=3600").Header.Get("Location"); !strings.HasPrefix(loc, testRedirect) {
		t.Fatalf("the request's own max_age should win: %s", loc)
	}
}

// TestAdminAPIUpdateClient: PATCH changes only what it names, checks it as
// a registration (invalid_client_metadata, nothing stored), and a new
// secret replaces the old at once.
func TestAdminAPIUpdateClient(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	_, secret := env.CreateClient(t, clients.Spec{ID: "svc", Name: "Service", GrantTypes: []string{clients.GrantClientCredentials},
		Scopes: []string{"api"}})
	status, body, _ := api(t, env, "PATCH", "/api/admin/clients/svc", tok, map[string]any{
		"logo_uri": tinyPNG, "policy_uri": "https://svc.example/privacy", "contacts": []string{"ops@svc.example"}})
	cl, _ := body["client"].(map[string]any)
	if status != 200 || cl["logo_uri"] != tinyPNG || cl["name"] != "Service" || cl["policy_uri"] != "https://svc.example/privacy" {
		t.Fatalf("PATCH: %d %v", status, body)
	}
	for _, bad := range []map[string]any{{"logo_uri": "http://svc.example/l.png"}, {"policy_uri": "javascript:alert(1)"},
		{"token_endpoint_auth_method": "private_key_jwt"}, {"logo_uri": "data:image/png;base64," + strings.Repeat("A", 40000)}} {
		status, body, _ := api(t, env, "PATCH", "/api/admin/clients/svc", tok, bad)
		if status != 400 || body["error"] != "invalid_client_metadata" {
			t.Errorf("PATCH %v: %d %v", bad, status, body)
		}
	}
	if status, body, _ := api(t, env, "PATCH", "/api/admin/clients/svc", tok, map[string]any{"secret": "x"}); status != 400 {
		t.Errorf("unknown field: %d %v", status, body)
	}
	if status, _, _ := api(t, env, "PATCH", "/api/admin/clients/ghost", tok, map[string]any{"name": "x"}); status != 404 {
		t.Errorf("unknown client: %d", status)
	}
	_, list, _ := api(t, env, "GET", "/api/admin/clients", tok, nil)
	if !strings.Contains(toJSON(t, list), "https://svc.example/privacy") || strings.Contains(toJSON(t, list), "javascript") {
		t.Fatalf("after refusals: %v", list)
	}
	if r := callAPI(t, env, "/token", creds{"svc", secret}, url.Values{"grant_type": {"client_credentials"}}); r.status != 200 {
		t.Fatalf("the update changed the secret: %d", r.status)
	}
	status, body, _ = api(t, env, "POST", "/api/admin/clients/svc/secret", tok, nil)
	fresh, _ := body["client_secret"].(string)
	if status != 200 || len(fresh) != 43 {
		t.Fatalf("new secret: %d %v", status, body)
	}
	if r := callAPI(t, env, "/token", creds{"svc", secret}, url.Values{"grant_type": {"client_credentials"}}); r.status != 401 {
		t.Fatalf("old secret after regeneration: %d", r.status)
	}
	if r := callAPI(t, env, "/token", creds{"svc", fresh}, url.Values{"grant_type": {"client_credentials"}}); r.status != 200 {
		t.Fatalf("new secret: %d %s", r.status, r.raw)
	}
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, RedirectURIs: []string{testRedirect}})
	if status, _, _ := api(t, env, "POST", "/api/admin/clients/spa/secret", tok, nil); status != 400 {
		t.Errorf("public client secret: %d", status)
	}
	events, _ := env.Audit.List(t.Context(), time.Time{}, 100)
	var kinds []string
	for _, e := range events {
		if e.Target == "svc" {
			kinds = append(kinds, e.Action)
		}
	}
	if got := strings.Join(kinds, " "); !strings.Contains(got, "client.updated") || !strings.Contains(got, "client.secret_regenerated") ||
		strings.Count(got, "client.updated") != 1 {
		t.Fatalf("audit for svc: %s", got)
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
