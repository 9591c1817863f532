package templates

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestAdminUpstreamsPages: the list shows the redirect URI to register and
// the secret only as a badge; hostile values come out escaped; a refused
// create form keeps what was typed; the secret inputs are always empty;
// "remove the secret" is offered only when there is one.
func TestAdminUpstreamsPages(t *testing.T) {
	s := defaultSet(t)
	base := AdminBase{Base: Base{CSRFToken: "tok"}, Section: "upstreams"}
	var buf bytes.Buffer
	err := s.AdminUpstreams(&buf, AdminUpstreamsPage{AdminBase: base,
		Upstreams: []AdminUpstream{
			{ID: "corp", Name: hostile, URL: "/admin/upstreams/corp", Kind: "oidc", Issuer: "https://sso.corp.example",
				RedirectURI: "https://id.example/login/upstream/corp/callback", RolesClaim: "groups", RequiredGroup: "staff", HasSecret: true, JIT: true,
				Endpoint: "https://sso.corp.example", ClaimMapping: "name=display_name", Linked: 3},
			{ID: "open", URL: "/admin/upstreams/open", Kind: "oidc"}},
		Form: AdminUpstreamForm{ID: "new", Name: "New <SSO>", Issuer: "https://x.example", LinkByEmail: true}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`href="/admin/upstreams/corp"`, "&lt;script&gt;", "https://id.example/login/upstream/corp/callback",
		">secret</span>", ">public, PKCE only</span>", ">create at first sign-in</span>", ">linked accounts only</span>",
		"from <code>groups</code>", "requires <code>staff</code>", ">left alone<", ">any<",
		`value="New &lt;SSO&gt;"`, `name="link_by_email" type="checkbox" value="1" checked`, `name="jit" type="checkbox" value="1" aria`,
		`name="secret" type="password" value=""`, "3 linked", "mapping <code>name=display_name</code>",
		`<code>https://sso.corp.example</code>`, `<option value="github">`, `name="claim_mapping"`, `name="userinfo_url"`} {
		if !strings.Contains(out, want) {
			t.Errorf("upstreams page lacks %s", want)
		}
	}
	if strings.Contains(out, hostile) {
		t.Error("a hostile name is not escaped")
	}

	for _, has := range []bool{true, false} {
		buf.Reset()
		err := s.AdminUpstream(&buf, AdminUpstreamPage{AdminBase: base, ID: "corp", URL: "/admin/upstreams/corp", Kind: "oidc",
			RedirectURI: "https://id.example/login/upstream/corp/callback", HasSecret: has,
			Form: AdminUpstreamForm{Name: hostile, Issuer: "https://sso.corp.example", ClientID: "idp", RolesPrefix: "idp-"}})
		if err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{`action="/admin/upstreams/corp"`, `action="/admin/upstreams/corp/delete"`,
			`id="redirect-uri">https://id.example/login/upstream/corp/callback<`, `name="secret" type="password" value=""`,
			`value="idp-"`, "the users stay"} {
			if !strings.Contains(out, want) {
				t.Errorf("upstream page (secret %t) lacks %s", has, want)
			}
		}
		if strings.Contains(out, hostile) || strings.Contains(out, `name="id"`) {
			t.Errorf("upstream page (secret %t): a hostile name unescaped, or an id field", has)
		}
		if got := strings.Contains(out, `name="remove_secret"`); got != has {
			t.Errorf("remove_secret offered: %t, want %t", got, has)
		}
	}
}

// TestAdminUpstreamPageKindFields: an upstream's page offers the
// endpoint fields of its own kind only, since the kind never changes.
func TestAdminUpstreamPageKindFields(t *testing.T) {
	s := defaultSet(t)
	for kind, want := range map[string][]string{"oidc": {`name="issuer"`}, "oauth2": {`name="auth_url"`, `name="token_url"`, `name="userinfo_url"`},
		"github": {`name="github_url"`}} {
		var buf strings.Builder
		if err := s.AdminUpstream(&buf, AdminUpstreamPage{ID: "x", URL: "/admin/upstreams/x", Kind: kind}); err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{`name="issuer"`, `name="auth_url"`, `name="token_url"`, `name="userinfo_url"`, `name="github_url"`} {
			if got := strings.Contains(buf.String(), field); got != slices.Contains(want, field) {
				t.Errorf("kind %s: %s shown %v", kind, field, got)
			}
		}
		if !strings.Contains(buf.String(), `name="claim_mapping"`) {
			t.Errorf("kind %s: no claim mapping field", kind)
		}
	}
}
