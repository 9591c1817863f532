package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"idp/clients"
)

// TestAdminWebClientPage: the client page edits the RFC 7591 metadata
// (refusing what registration refuses, changing nothing then), regenerates
// the secret only after a confirmation and shows it once, and the clients
// page makes registration tokens that /register accepts.
func TestAdminWebClientPage(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	_, secret := c.env.CreateClient(t, clients.Spec{ID: "notes", Name: "Notes", RedirectURIs: []string{"https://notes.example/cb"}})
	p := c.page(t, "/admin/clients/notes")
	if !strings.Contains(p.Body, `action="/admin/clients/notes/secret"`) || !strings.Contains(p.Body, `value="Notes"`) {
		t.Fatalf("client page:\n%.2000s", p.Body)
	}
	form := url.Values{"name": {"Acme Notes"}, "logo_uri": {"https://cdn.example/notes.png"}, "policy_uri": {"https://notes.example/privacy"},
		"contacts": {"ops@notes.example\ndev@notes.example"}, "redirect_uris": {"https://notes.example/cb\nhttps://notes.example/cb2"},
		"scopes": {"openid email"}, "signing_alg": {"ES256"}, "application_type": {"web"}, "default_max_age": {"3600"},
		"grant_type": {"authorization_code", "refresh_token"}, "token_endpoint_auth_method": {"client_secret_post"}, "require_mfa": {"1"},
		"require_verified_email": {"1"}}
	resp, _ := c.post(t, "/admin/clients/notes", form)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "notice=client-updated") {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	cl, err := c.env.Clients.Store().ByID(t.Context(), "notes")
	if err != nil || cl.Name != "Acme Notes" || cl.LogoURI != "https://cdn.example/notes.png" || len(cl.Contacts) != 2 ||
		len(cl.RedirectURIs) != 2 || cl.SigningAlg != "ES256" || cl.DefaultMaxAge != 3600 || !cl.RequireMFA ||
		cl.TokenEndpointAuthMethod != "client_secret_post" || cl.Trusted || !cl.RequireVerifiedEmail {
		t.Fatalf("saved %+v, %v", cl, err)
	}
	for name, change := range map[string][2]string{
		"http logo":       {"logo_uri", "http://cdn.example/notes.png"},
		"javascript link": {"policy_uri", "javascript:alert(1)"},
		"bad max age":     {"default_max_age", "soon"},
		"bad contact":     {"contacts", "not an address"},
	} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set(change[0], change[1])
		resp, page := c.post(t, "/admin/clients/notes", bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, "Not saved") {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if p := c.page(t, "/admin/clients/notes"); !strings.Contains(p.Body, `name="require_verified_email" type="checkbox" value="1" checked`) {
		t.Error("the page does not show the stored require_verified_email")
	}
	if after, _ := c.env.Clients.Store().ByID(t.Context(), "notes"); after.LogoURI != cl.LogoURI || after.PolicyURI != cl.PolicyURI {
		t.Fatalf("a refused save changed the client: %+v", after)
	}
	form.Del("csrf_token") // c.post added it
	if resp, _ := c.env.PostForm(t, c.b, "/admin/clients/notes", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("save without CSRF: %d", resp.StatusCode)
	}
	if _, p := c.env.Get(t, c.b, "/admin/clients/ghost"); p.Status != http.StatusNotFound {
		t.Errorf("unknown client: %d", p.Status)
	}

	// The secret: a confirmation first, which changes nothing.
	resp, p = c.post(t, "/admin/clients/notes/secret", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(p.Body, "Regenerate the secret of notes?") {
		t.Fatalf("secret confirmation: %d", resp.StatusCode)
	}
	if _, err := c.env.Clients.Authenticate(t.Context(), "notes", secret); err != nil {
		t.Fatalf("the confirmation page changed the secret: %v", err)
	}
	resp, p = c.post(t, "/admin/clients/notes/secret", url.Values{"confirm": {"yes"}})
	fresh := between(p.Body, `<code class="secret">`, `</code>`)
	if resp.StatusCode != http.StatusOK || len(fresh) != 43 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new secret: %d %q", resp.StatusCode, fresh)
	}
	if _, err := c.env.Clients.Authenticate(t.Context(), "notes", secret); err == nil {
		t.Fatal("the old secret still works")
	}
	if _, err := c.env.Clients.Authenticate(t.Context(), "notes", fresh); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	if strings.Contains(c.page(t, "/admin/clients/notes").Body, fresh) {
		t.Fatal("the secret is shown again")
	}

	// A registration token, shown once, that the registration endpoint takes.
	resp, p = c.post(t, "/admin/clients/registration-tokens", url.Values{"ttl_hours": {"2"}, "uses": {"1"}})
	token := between(p.Body, `<code class="secret">`, `</code>`)
	if resp.StatusCode != http.StatusCreated || len(token) != 43 {
		t.Fatalf("registration token: %d %q", resp.StatusCode, token)
	}
	if status, body, _ := register(t, c.env, "POST", "/register", token, map[string]any{"redirect_uris": []string{"https://x.example/cb"}}); status != 201 {
		t.Fatalf("the token at /register: %d %v", status, body)
	}
	if resp, p := c.post(t, "/admin/clients/registration-tokens", url.Values{"ttl_hours": {"9223372036854775807"}, "uses": {"1"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Not created") {
		t.Errorf("a zero lifetime: %d", resp.StatusCode)
	}
	if list := c.page(t, "/admin/clients").Body; !strings.Contains(list, "registered (token)") || strings.Contains(list, token) {
		t.Errorf("clients list after a registration:\n%.3000s", list)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return ""
}

// TestAdminWebClientKeepsAssertionMethod: the edit form shows a client's
// assertion method (client_secret_jwt, private_key_jwt) selected, so
// saving other changes keeps it instead of quietly switching the client to
// a plain secret.
func TestAdminWebClientKeepsAssertionMethod(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	mac := clients.Spec{ID: "mac", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api"}}
	mac.TokenEndpointAuthMethod = clients.AuthSecretJWT
	c.env.CreateClient(t, mac)
	key := clients.Spec{ID: "keyed", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api"}}
	key.TokenEndpointAuthMethod, key.JWKSURI = clients.AuthPrivateKeyJWT, "https://keyed.example/jwks"
	c.env.CreateClient(t, key)
	for _, id := range []string{"mac", "keyed"} {
		before, _ := c.env.Clients.Store().ByID(t.Context(), id)
		p := c.page(t, "/admin/clients/"+id)
		if !strings.Contains(p.Body, `value="`+before.TokenEndpointAuthMethod+`" selected`) {
			t.Fatalf("%s: the page does not show %s selected", id, before.TokenEndpointAuthMethod)
		}
		form := url.Values{"name": {"Renamed " + id}, "scopes": {"api"}, "signing_alg": {"RS256"}, "application_type": {"web"},
			"default_max_age": {"0"}, "grant_type": {"client_credentials"}, "token_endpoint_auth_method": {before.TokenEndpointAuthMethod}}
		if resp, _ := c.post(t, "/admin/clients/"+id, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: save: %d", id, resp.StatusCode)
		}
		after, _ := c.env.Clients.Store().ByID(t.Context(), id)
		if after.Name != "Renamed "+id || after.TokenEndpointAuthMethod != before.TokenEndpointAuthMethod ||
			string(after.SecretSealed) != string(before.SecretSealed) || after.JWKSURI != before.JWKSURI {
			t.Fatalf("%s: saved %+v", id, after)
		}
	}
}
