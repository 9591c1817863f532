package server_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"idp/admin"
	"idp/server/servertest"
	"idp/upstreams"
)

// upSecret is a client secret at an upstream: no page or response may
// ever carry it.
const upSecret = "upstream-secret-Zq8vLw3kPx0rTn"

// upstreamForm is a complete, valid create form.
func upstreamForm() url.Values {
	return url.Values{"id": {"corp"}, "name": {"Corp <SSO>"}, "issuer": {"https://sso.corp.example"},
		"client_id": {"idp-at-corp"}, "secret": {upSecret}, "scopes": {"email profile"},
		"allowed_domains": {"Corp.example, sub.corp.example"}, "link_by_email": {"1"}, "jit": {"1"},
		"roles_claim": {"groups"}, "roles_prefix": {"idp-"}, "required_group": {"idp-staff"}}
}

// storedUpstream reads an upstream straight from the store, sealed secret
// included.
func storedUpstream(t *testing.T, env *servertest.Env, id string) *upstreams.Upstream {
	t.Helper()
	u, err := env.App.Upstreams.Store().ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("upstream %s: %v", id, err)
	}
	return u
}

// problemRE is the page's error message (not the second-factor warning,
// which carries an id).
var problemRE = regexp.MustCompile(`<div class="alert alert-error" role="alert">([^<]*)</div>`)

// problem is the error message of a page, unescaped.
func problem(p *servertest.Page) string {
	if m := problemRE.FindStringSubmatch(p.Body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// upstreamEvents returns the audit events of action about upstream id,
// newest first.
func upstreamEvents(t *testing.T, env *servertest.Env, action, id string) []admin.Event {
	t.Helper()
	var out []admin.Event
	err := env.App.Admin.ExportAudit(context.Background(), admin.AuditQuery{Kind: action, Subject: id}, func(e admin.Event) error {
		if e.Action == action {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func countUpstreams(t *testing.T, env *servertest.Env) int {
	t.Helper()
	list, err := env.App.Upstreams.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestAdminUpstreamsWebCreate: the upstreams page adds an upstream (its
// secret sealed, never shown) and lists it with the redirect URI to
// register at it; bad input comes back with the reason and what was
// typed (but never the secret), with nothing created; a taken id is 409;
// a form without the CSRF token is refused.
func TestAdminUpstreamsWebCreate(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	if p := c.page(t, "/admin/upstreams"); !strings.Contains(p.Body, "No upstreams yet.") ||
		!strings.Contains(p.Body, `href="/admin/upstreams" aria-current="page"`) {
		t.Fatalf("empty list:\n%.2000s", p.Body)
	}
	resp, _ := c.post(t, "/admin/upstreams", upstreamForm())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/upstreams/corp?notice=upstream-created" {
		t.Fatalf("create: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	u := storedUpstream(t, c.env, "corp")
	if u.Name != "Corp <SSO>" || u.Issuer != "https://sso.corp.example" || u.ClientID != "idp-at-corp" ||
		strings.Join(u.Scopes, " ") != "openid email profile" || strings.Join(u.AllowedDomains, " ") != "corp.example sub.corp.example" ||
		!u.LinkByEmail || !u.JIT || u.Claims != (upstreams.ClaimMapping{RolesClaim: "groups", RolesPrefix: "idp-", RequiredGroup: "idp-staff"}) {
		t.Fatalf("stored %+v", u)
	}
	if len(u.SecretSealed) == 0 || bytes.Contains(u.SecretSealed, []byte(upSecret)) {
		t.Fatalf("the secret is not sealed: %q", u.SecretSealed)
	}
	redirect := c.env.URL + "/login/upstream/corp/callback"
	p := c.page(t, "/admin/upstreams/corp?notice=upstream-created")
	for _, want := range []string{redirect, "Register the redirect URI", `value="Corp &lt;SSO&gt;"`, `value="idp-at-corp"`,
		`value="openid email profile"`, `value="corp.example sub.corp.example"`, `name="link_by_email" type="checkbox" value="1" checked`,
		`name="jit" type="checkbox" value="1" checked`, `value="idp-staff"`, "client secret set", `name="remove_secret"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("upstream page lacks %s", want)
		}
	}
	list := c.page(t, "/admin/upstreams").Body
	for _, want := range []string{`href="/admin/upstreams/corp"`, "Corp &lt;SSO&gt;", redirect, "https://sso.corp.example",
		"idp-at-corp", "corp.example, sub.corp.example", "link by verified email", "create at first sign-in", ">groups<", ">idp-<", ">idp-staff<"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %s", want)
		}
	}
	for name, body := range map[string]string{"list": list, "page": p.Body} {
		if strings.Contains(body, upSecret) || strings.Contains(body, "secret_sealed") {
			t.Errorf("the %s shows the secret", name)
		}
	}

	// A public client: no secret stored.
	public := upstreamForm()
	public.Set("id", "public")
	public.Del("secret")
	public.Del("required_group")
	if resp, _ := c.post(t, "/admin/upstreams", public); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("public: %d", resp.StatusCode)
	}
	if u := storedUpstream(t, c.env, "public"); u.SecretSealed != nil {
		t.Fatalf("a public client has a sealed secret %q", u.SecretSealed)
	}
	if p := c.page(t, "/admin/upstreams/public"); !strings.Contains(p.Body, "public client, PKCE only") || strings.Contains(p.Body, `name="remove_secret"`) {
		t.Error("the public upstream's page does not say it is public")
	}

	for name, tc := range map[string]struct{ field, value, words string }{
		"bad id":           {"id", "Bad/ID", "lowercase letters"},
		"no name":          {"name", " ", "name is required"},
		"plain http":       {"issuer", "http://sso.corp.example", "must be https"},
		"relative issuer":  {"issuer", "/sso", "absolute URL"},
		"issuer query":     {"issuer", "https://sso.corp.example/?tenant=1", "without query"},
		"no client id":     {"client_id", "", "client id is required"},
		"bad domain":       {"allowed_domains", "grace@corp.example", "is not a domain"},
		"group, no claim":  {"roles_claim", "", "needs the roles claim"},
		"taken id (other)": {"id", "public", "already exists"},
	} {
		bad := upstreamForm()
		bad.Set("id", "new-"+strings.ReplaceAll(name, " ", "-"))
		if tc.field == "id" {
			bad.Set("id", tc.value)
		} else {
			bad.Set(tc.field, tc.value)
		}
		resp, p := c.post(t, "/admin/upstreams", bad)
		want := http.StatusBadRequest
		if tc.words == "already exists" {
			want = http.StatusConflict
		}
		if resp.StatusCode != want || !strings.Contains(problem(p), "Not created: ") || !strings.Contains(problem(p), tc.words) {
			t.Errorf("%s: %d %q", name, resp.StatusCode, problem(p))
		}
		if strings.Contains(p.Body, upSecret) {
			t.Errorf("%s: the refused form carries the secret back", name)
		}
		if !strings.Contains(p.Body, `value="`+html.EscapeString(bad.Get("id"))+`"`) || !strings.Contains(p.Body, `value="`+html.EscapeString(strings.TrimSpace(bad.Get("name")))+`"`) ||
			!strings.Contains(p.Body, `name="jit" type="checkbox" value="1" checked`) {
			t.Errorf("%s: the refused form lost what was typed", name)
		}
	}
	if n := countUpstreams(t, c.env); n != 2 {
		t.Fatalf("refused forms created upstreams: %d", n)
	}

	// Without or with a wrong CSRF token: refused, nothing made.
	noCSRF := upstreamForm()
	noCSRF.Set("id", "csrf")
	if resp, _ := c.env.PostForm(t, c.b, "/admin/upstreams", noCSRF); resp.StatusCode != http.StatusForbidden {
		t.Errorf("create without CSRF: %d", resp.StatusCode)
	}
	noCSRF.Set("csrf_token", "forged-token")
	if resp, _ := c.env.PostForm(t, c.b, "/admin/upstreams", noCSRF); resp.StatusCode != http.StatusForbidden {
		t.Errorf("create with a wrong CSRF token: %d", resp.StatusCode)
	}
	if n := countUpstreams(t, c.env); n != 2 {
		t.Fatalf("a refused request created an upstream: %d", n)
	}
	if _, p := c.env.Get(t, c.b, "/admin/upstreams/ghost"); p.Status != http.StatusNotFound {
		t.Errorf("unknown upstream: %d", p.Status)
	}
	if events(t, c.env, "upstream.create", "corp") != 1 || events(t, c.env, "upstream.create", "public") != 1 {
		t.Error("no audit event for a creation")
	}
}

// TestAdminUpstreamsWebEdit: an upstream's page saves every field; the
// secret is write-only (an empty field keeps the sealed bytes, a new one
// replaces them, the checkbox removes them); bad input is refused with
// the reason and what was typed, nothing changed; deleting asks first and
// says the users stay.
func TestAdminUpstreamsWebEdit(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	if _, err := c.env.App.Upstreams.Create(t.Context(), upstreams.Spec{ID: "corp", Name: "Corp", Issuer: "https://sso.corp.example",
		ClientID: "idp", Secret: upSecret}); err != nil {
		t.Fatal(err)
	}
	sealed := storedUpstream(t, c.env, "corp").SecretSealed
	page := "/admin/upstreams/corp"
	form := upstreamForm()
	form.Del("id")
	form.Set("secret", "")
	form.Set("issuer", "https://login.corp.example/tenant")
	resp, _ := c.post(t, page, form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page+"?notice=upstream-updated" {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	u := storedUpstream(t, c.env, "corp")
	if u.Name != "Corp <SSO>" || u.Issuer != "https://login.corp.example/tenant" || u.ClientID != "idp-at-corp" || !u.JIT ||
		!u.LinkByEmail || u.Claims.RequiredGroup != "idp-staff" || len(u.AllowedDomains) != 2 {
		t.Fatalf("saved %+v", u)
	}
	if !bytes.Equal(u.SecretSealed, sealed) {
		t.Fatal("an empty secret field changed the secret")
	}

	// Unchecked boxes and emptied fields clear them.
	cleared := url.Values{"name": {"Corp"}, "issuer": {"https://sso.corp.example"}, "client_id": {"idp"}}
	if resp, _ := c.post(t, page, cleared); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("clear: %d", resp.StatusCode)
	}
	if u := storedUpstream(t, c.env, "corp"); u.JIT || u.LinkByEmail || len(u.AllowedDomains) != 0 || u.Claims != (upstreams.ClaimMapping{}) ||
		strings.Join(u.Scopes, " ") != "openid" || !bytes.Equal(u.SecretSealed, sealed) {
		t.Fatalf("after clearing %+v", u)
	}

	// A new secret replaces the sealed bytes.
	form.Set("secret", "a-brand-new-secret-0987654321")
	if resp, _ := c.post(t, page, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("new secret: %d", resp.StatusCode)
	}
	replaced := storedUpstream(t, c.env, "corp").SecretSealed
	if len(replaced) == 0 || bytes.Equal(replaced, sealed) || bytes.Contains(replaced, []byte("a-brand-new-secret")) {
		t.Fatalf("the secret was not replaced and sealed: %q", replaced)
	}
	if p := c.page(t, page); strings.Contains(p.Body, "a-brand-new-secret") || strings.Contains(p.Body, upSecret) ||
		!strings.Contains(p.Body, `id="edit-secret" name="secret" type="password" value=""`) {
		t.Fatal("the page shows a secret")
	}

	// A new secret and "remove" together: refused, kept.
	both := url.Values{}
	for k, v := range form {
		both[k] = v
	}
	both.Set("remove_secret", "1")
	if resp, p := c.post(t, page, both); resp.StatusCode != http.StatusBadRequest || !strings.Contains(problem(p), "not both") {
		t.Errorf("secret and remove: %d %q", resp.StatusCode, problem(p))
	}
	if !bytes.Equal(storedUpstream(t, c.env, "corp").SecretSealed, replaced) {
		t.Fatal("a refused save changed the secret")
	}

	// Bad input: the reason, the typed values, nothing changed.
	for name, tc := range map[string]struct{ field, value, words string }{
		"plain http":      {"issuer", "http://evil.example", "must be https"},
		"no name":         {"name", "", "name is required"},
		"no client id":    {"client_id", "", "client id is required"},
		"bad domain":      {"allowed_domains", "corp.example/x", "is not a domain"},
		"group, no claim": {"roles_claim", "", "needs the roles claim"},
	} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("secret", "refused-secret-555")
		bad.Set("roles_prefix", "typed-prefix-")
		bad.Set(tc.field, tc.value)
		resp, p := c.post(t, page, bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(problem(p), "Not saved: ") || !strings.Contains(problem(p), tc.words) {
			t.Errorf("%s: %d %q", name, resp.StatusCode, problem(p))
		}
		if !strings.Contains(p.Body, `value="typed-prefix-"`) || strings.Contains(p.Body, "refused-secret-555") {
			t.Errorf("%s: the refused form lost what was typed or carried the secret", name)
		}
	}
	if u := storedUpstream(t, c.env, "corp"); u.Issuer != "https://login.corp.example/tenant" || u.Claims.RolesPrefix != "idp-" ||
		!bytes.Equal(u.SecretSealed, replaced) {
		t.Fatalf("a refused save changed the upstream: %+v", u)
	}

	// Without or with a wrong CSRF token: refused, nothing changed.
	remove := url.Values{}
	for k, v := range form {
		remove[k] = v
	}
	remove.Set("secret", "")
	remove.Set("remove_secret", "1")
	remove.Del("csrf_token") // c.post added it to form
	if resp, _ := c.env.PostForm(t, c.b, page, remove); resp.StatusCode != http.StatusForbidden {
		t.Errorf("save without CSRF: %d", resp.StatusCode)
	}
	wrong := url.Values{"csrf_token": {"forged"}}
	for k, v := range remove {
		wrong[k] = v
	}
	if resp, _ := c.env.PostForm(t, c.b, page, wrong); resp.StatusCode != http.StatusForbidden {
		t.Errorf("save with a wrong CSRF token: %d", resp.StatusCode)
	}
	if !bytes.Equal(storedUpstream(t, c.env, "corp").SecretSealed, replaced) {
		t.Fatal("a refused request changed the secret")
	}

	// Remove: a public client.
	if resp, _ := c.post(t, page, remove); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	if u := storedUpstream(t, c.env, "corp"); u.SecretSealed != nil {
		t.Fatalf("the secret was not removed: %q", u.SecretSealed)
	}
	if resp, _ := c.post(t, "/admin/upstreams/ghost", form); resp.StatusCode != http.StatusNotFound {
		t.Errorf("save of an unknown upstream: %d", resp.StatusCode)
	}

	// Delete: a confirmation first, which deletes nothing.
	resp, p := c.post(t, page+"/delete", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(p.Body, `name="confirm" value="yes"`) ||
		!strings.Contains(p.Body, "The users stay") || !strings.Contains(p.Body, `action="/admin/upstreams/corp/delete"`) {
		t.Fatalf("delete confirmation: %d\n%.2000s", resp.StatusCode, p.Body)
	}
	storedUpstream(t, c.env, "corp")
	if resp, _ := c.env.PostForm(t, c.b, page+"/delete", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", resp.StatusCode)
	}
	storedUpstream(t, c.env, "corp")
	resp, _ = c.post(t, page+"/delete", url.Values{"confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/upstreams?notice=upstream-deleted" {
		t.Fatalf("delete: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if countUpstreams(t, c.env) != 0 {
		t.Fatal("still there")
	}
	if _, p := c.env.Get(t, c.b, page); p.Status != http.StatusNotFound {
		t.Errorf("deleted upstream's page: %d", p.Status)
	}
	// Four saves, newest first: removed, replaced, kept, kept; by the
	// admin, through the web; never the secret.
	updates := upstreamEvents(t, c.env, "upstream.update", "corp")
	var details []string
	for _, e := range updates {
		details = append(details, e.Detail)
		if e.Actor != adminEmail || e.Via != "web" || strings.Contains(e.Detail, "a-brand-new-secret") {
			t.Errorf("update event %+v", e)
		}
	}
	if strings.Join(details, ",") != "secret=removed,secret=replaced,," {
		t.Errorf("update events say %q", details)
	}
	if resp, _ := c.post(t, "/admin/upstreams/ghost/delete", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("delete of an unknown upstream: %d", resp.StatusCode)
	}
	if events(t, c.env, "upstream.delete", "corp") != 1 {
		t.Error("no audit event for the deletion")
	}
}

// TestAdminUpstreamsWebRefusesOthers: every upstream page sends an
// anonymous browser to sign in and refuses a signed-in non-admin, with
// nothing changed.
func TestAdminUpstreamsWebRefusesOthers(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	if _, err := env.App.Upstreams.Create(t.Context(), upstreams.Spec{ID: "corp", Name: "Corp", Issuer: "https://sso.corp.example",
		ClientID: "idp", Secret: upSecret}); err != nil {
		t.Fatal(err)
	}
	anon, user := env.Browser(t), env.Browser(t)
	signInDirect(t, env, user, testEmail, testPassword)
	body := upstreamForm()
	body.Set("id", "sneaky")
	body.Set("confirm", "yes")
	body.Set("remove_secret", "1")
	body.Del("secret")
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/upstreams"}, {"POST", "/admin/upstreams"}, {"GET", "/admin/upstreams/corp"},
		{"POST", "/admin/upstreams/corp"}, {"POST", "/admin/upstreams/corp/delete"},
	} {
		for _, b := range []struct {
			name   string
			client *http.Client
			status int
		}{{"anonymous", anon, http.StatusSeeOther}, {"non-admin", user, http.StatusForbidden}} {
			req, _ := http.NewRequest(r.method, env.URL+r.path, strings.NewReader(body.Encode()))
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
	if u := storedUpstream(t, env, "corp"); u.Name != "Corp" || u.SecretSealed == nil {
		t.Fatalf("a refused request changed it: %+v", u)
	}
	if n := countUpstreams(t, env); n != 1 {
		t.Fatalf("a refused request created an upstream: %d", n)
	}
}
