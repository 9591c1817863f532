package server_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/clients"
	"idp/resources"
	"idp/server/servertest"
)

// oddURI holds every character that is awkward in a path: "/", ":", "?",
// "%" and "=".
const oddURI = "https://orders.example/api/v1?tenant=a%2Fb&x=1"

func resourcePath(uri string) string { return "/admin/resources/" + url.PathEscape(uri) }

// TestAdminResourcesWebCreate: the resources page registers a resource,
// showing a generated introspection secret once, or none when asked; bad
// input is refused with nothing created, and a URI full of "/", ":", "?"
// and "%" gets a page of its own.
func TestAdminResourcesWebCreate(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	form := url.Values{"id": {oddURI}, "name": {"Orders <API>"}, "scopes": {"orders:read orders:write"},
		"signing_alg": {"ES256"}, "access_token_ttl": {"120"}}
	resp, p := c.post(t, "/admin/resources", form)
	secret := between(p.Body, `<code class="secret">`, `</code>`)
	if resp.StatusCode != http.StatusCreated || len(secret) < 32 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q %s", resp.StatusCode, secret, p.Alert())
	}
	if _, err := c.env.Resources.Authenticate(t.Context(), oddURI, secret); err != nil {
		t.Fatalf("the shown secret: %v", err)
	}
	list := c.page(t, "/admin/resources").Body
	if strings.Contains(list, secret) || !strings.Contains(list, `href="`+html.EscapeString(resourcePath(oddURI))+`"`) ||
		!strings.Contains(list, "Orders &lt;API&gt;") || !strings.Contains(list, "2 minutes") {
		t.Fatalf("list:\n%.3000s", list)
	}
	p = c.page(t, resourcePath(oddURI))
	if !strings.Contains(p.Body, html.EscapeString(oddURI)) || !strings.Contains(p.Body, `value="orders:read orders:write"`) ||
		!strings.Contains(p.Body, `value="ES256" selected`) || !strings.Contains(p.Body, `value="120"`) {
		t.Fatalf("resource page:\n%.3000s", p.Body)
	}

	// Without a secret: straight to its page.
	resp, _ = c.post(t, "/admin/resources", url.Values{"id": {"urn:example:billing"}, "no_secret": {"1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != resourcePath("urn:example:billing")+"?notice=resource-created" {
		t.Fatalf("create without a secret: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r, err := c.env.Resources.Store().ByURI(t.Context(), "urn:example:billing"); err != nil || r.SecretHash != nil {
		t.Fatalf("stored %+v %v", r, err)
	}

	for name, bad := range map[string]url.Values{
		"relative URI":  {"id": {"/api"}},
		"fragment":      {"id": {"https://x.example/api#f"}},
		"bad alg":       {"id": {"https://x.example/api"}, "signing_alg": {"HS256"}},
		"short ttl":     {"id": {"https://x.example/api"}, "access_token_ttl": {"10"}},
		"long ttl":      {"id": {"https://x.example/api"}, "access_token_ttl": {"86400"}},
		"words for ttl": {"id": {"https://x.example/api"}, "access_token_ttl": {"soon"}},
		"bad scope":     {"id": {"https://x.example/api"}, "scopes": {`a"b`}},
	} {
		resp, p := c.post(t, "/admin/resources", bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Not created") {
			t.Errorf("%s: %d %q", name, resp.StatusCode, p.Alert())
		}
		if bad.Get("id") != "" && !strings.Contains(p.Body, `value="`+html.EscapeString(bad.Get("id"))+`"`) {
			t.Errorf("%s: the refused form lost its URI", name)
		}
	}
	if resp, p := c.post(t, "/admin/resources", url.Values{"id": {oddURI}}); resp.StatusCode != http.StatusConflict || !strings.Contains(p.Body, "Not created") {
		t.Errorf("taken URI: %d %q", resp.StatusCode, p.Alert())
	}
	if list, _ := c.env.Resources.Store().List(t.Context()); len(list) != 2 {
		t.Fatalf("refused forms created resources: %d", len(list))
	}
	if resp, _ := c.env.PostForm(t, c.b, "/admin/resources", url.Values{"id": {"urn:example:csrf"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("create without CSRF: %d", resp.StatusCode)
	}
	if _, p := c.env.Get(t, c.b, resourcePath("urn:example:ghost")); p.Status != http.StatusNotFound {
		t.Errorf("unknown resource: %d", p.Status)
	}
	if events(t, c.env, "resource.created", oddURI) != 1 {
		t.Error("no audit event for the creation")
	}
}

// TestAdminResourcesWebEdit: the resource page saves its form (refusing
// bad input with nothing changed), regenerates the secret and deletes the
// resource, each only after a confirmation.
func TestAdminResourcesWebEdit(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	secret := c.env.CreateResource(t, resources.Spec{URI: oddURI, Name: "Orders", Scopes: []string{"orders:read"}})
	page := resourcePath(oddURI)
	form := url.Values{"name": {"Orders v2"}, "scopes": {"orders:read orders:admin"}, "signing_alg": {"RS256"}, "access_token_ttl": {"300"}}
	resp, _ := c.post(t, page, form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page+"?notice=resource-updated" {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	saved, err := c.env.Resources.Store().ByURI(t.Context(), oddURI)
	if err != nil || saved.Name != "Orders v2" || len(saved.Scopes) != 2 || saved.SigningAlg != "RS256" ||
		saved.AccessTokenTTL != 5*time.Minute || saved.SecretHash == nil {
		t.Fatalf("saved %+v %v", saved, err)
	}
	for name, change := range map[string][2]string{
		"bad alg":   {"signing_alg", "none"},
		"short ttl": {"access_token_ttl", "5"},
		"ttl words": {"access_token_ttl", "an hour"},
		"negative":  {"access_token_ttl", "-30"},
		"bad scope": {"scopes", "a\\b"},
	} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("name", "Refused")
		bad.Set(change[0], change[1])
		resp, p := c.post(t, page, bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Not saved") {
			t.Errorf("%s: %d %q", name, resp.StatusCode, p.Alert())
		}
	}
	if after, _ := c.env.Resources.Store().ByURI(t.Context(), oddURI); after.Name != "Orders v2" || after.AccessTokenTTL != 5*time.Minute {
		t.Fatalf("a refused save changed the resource: %+v", after)
	}
	form.Del("csrf_token") // c.post added it
	if resp, _ := c.env.PostForm(t, c.b, page, form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("save without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := c.post(t, resourcePath("urn:example:ghost"), form); resp.StatusCode != http.StatusNotFound {
		t.Errorf("save of an unknown resource: %d", resp.StatusCode)
	}

	// The secret: a confirmation first, which changes nothing.
	resp, p := c.post(t, page+"/secret", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(p.Body, `name="confirm" value="yes"`) || !strings.Contains(p.Body, `action="`+html.EscapeString(page)+`/secret"`) {
		t.Fatalf("secret confirmation: %d\n%.2000s", resp.StatusCode, p.Body)
	}
	if _, err := c.env.Resources.Authenticate(t.Context(), oddURI, secret); err != nil {
		t.Fatalf("the confirmation changed the secret: %v", err)
	}
	resp, p = c.post(t, page+"/secret", url.Values{"confirm": {"yes"}})
	fresh := between(p.Body, `<code class="secret">`, `</code>`)
	if resp.StatusCode != http.StatusOK || len(fresh) < 32 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new secret: %d %q", resp.StatusCode, fresh)
	}
	if _, err := c.env.Resources.Authenticate(t.Context(), oddURI, secret); err == nil {
		t.Fatal("the old secret still works")
	}
	if _, err := c.env.Resources.Authenticate(t.Context(), oddURI, fresh); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	if strings.Contains(c.page(t, page).Body, fresh) {
		t.Fatal("the secret is shown again")
	}
	if resp, _ := c.env.PostForm(t, c.b, page+"/secret", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("regenerate without CSRF: %d", resp.StatusCode)
	}

	// Delete: confirmed first.
	resp, p = c.post(t, page+"/delete", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(p.Body, `name="confirm" value="yes"`) {
		t.Fatalf("delete confirmation: %d", resp.StatusCode)
	}
	if _, err := c.env.Resources.Store().ByURI(t.Context(), oddURI); err != nil {
		t.Fatalf("the confirmation deleted it: %v", err)
	}
	if resp, _ := c.env.PostForm(t, c.b, page+"/delete", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", resp.StatusCode)
	}
	resp, _ = c.post(t, page+"/delete", url.Values{"confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/resources?notice=resource-deleted" {
		t.Fatalf("delete: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := c.env.Resources.Store().ByURI(t.Context(), oddURI); err == nil {
		t.Fatal("still there")
	}
	if _, p := c.env.Get(t, c.b, page); p.Status != http.StatusNotFound {
		t.Errorf("deleted resource page: %d", p.Status)
	}
	for _, action := range []string{"resource.updated", "resource.secret_regenerated", "resource.deleted"} {
		if events(t, c.env, action, oddURI) != 1 {
			t.Errorf("want one %s event", action)
		}
	}
}

// TestAdminResourcesWebClientDefault: the client page sets a client's
// default resource, refusing an unregistered one with nothing changed.
func TestAdminResourcesWebClientDefault(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	c.env.CreateResource(t, resources.Spec{URI: "https://orders.example/api", NoSecret: true})
	c.env.CreateClient(t, clients.Spec{ID: "notes", Name: "Notes", RedirectURIs: []string{"https://notes.example/cb"}})
	form := url.Values{"name": {"Notes"}, "redirect_uris": {"https://notes.example/cb"}, "scopes": {"openid"},
		"signing_alg": {"RS256"}, "application_type": {"web"}, "grant_type": {"authorization_code"},
		"default_resource": {"https://ghost.example/api"}}
	resp, p := c.post(t, "/admin/clients/notes", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Not saved") {
		t.Fatalf("unregistered default resource: %d %q", resp.StatusCode, p.Alert())
	}
	if cl, _ := c.env.Clients.Store().ByID(t.Context(), "notes"); cl.DefaultResource != "" {
		t.Fatalf("refused save stored %q", cl.DefaultResource)
	}
	form.Set("default_resource", "https://orders.example/api")
	if resp, _ := c.post(t, "/admin/clients/notes", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	if cl, _ := c.env.Clients.Store().ByID(t.Context(), "notes"); cl.DefaultResource != "https://orders.example/api" {
		t.Fatalf("stored %q", cl.DefaultResource)
	}
	if p := c.page(t, "/admin/clients/notes"); !strings.Contains(p.Body, `name="default_resource" type="text" value="https://orders.example/api"`) {
		t.Error("the page does not show the default resource")
	}
	form.Set("default_resource", "")
	if resp, _ := c.post(t, "/admin/clients/notes", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("clear: %d", resp.StatusCode)
	}
	if cl, _ := c.env.Clients.Store().ByID(t.Context(), "notes"); cl.DefaultResource != "" {
		t.Fatalf("not cleared: %q", cl.DefaultResource)
	}
}

// TestAdminResourcesWebRefusesOthers: every resource page sends an
// anonymous browser to sign in and refuses a signed-in non-admin.
func TestAdminResourcesWebRefusesOthers(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateResource(t, resources.Spec{URI: oddURI, Name: "Orders"})
	p := resourcePath(oddURI)
	anon, user := env.Browser(t), env.Browser(t)
	signInDirect(t, env, user, testEmail, testPassword)
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/resources"}, {"POST", "/admin/resources"}, {"GET", p}, {"POST", p}, {"POST", p + "/secret"}, {"POST", p + "/delete"},
	} {
		for _, b := range []struct {
			name   string
			client *http.Client
			status int
		}{{"anonymous", anon, http.StatusSeeOther}, {"non-admin", user, http.StatusForbidden}} {
			req, _ := http.NewRequest(r.method, env.URL+r.path, strings.NewReader("confirm=yes&name=x"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != b.status {
				t.Errorf("%s %s %s: %d, want %d", b.name, r.method, r.path, resp.StatusCode, b.status)
			}
		}
	}
	if r, err := env.Resources.Store().ByURI(t.Context(), oddURI); err != nil || r.Name != "Orders" {
		t.Fatalf("a refused request changed it: %+v %v", r, err)
	}
}
