package templates

import (
	"bytes"
	"strings"
	"testing"
)

// TestAdminResourcesPages: the list says which resources introspect and
// falls back to words for the client's alg and the provider's lifetime; a
// refused create form keeps what was typed; a resource page's forms post
// to its escaped URL, and a new secret appears only when given.
func TestAdminResourcesPages(t *testing.T) {
	s := defaultSet(t)
	base := AdminBase{Base: Base{CSRFToken: "tok"}, Section: "resources"}
	var buf bytes.Buffer
	err := s.AdminResources(&buf, AdminResourcesPage{AdminBase: base,
		Resources: []AdminResource{{URI: "urn:a", URL: "/admin/resources/urn:a"},
			{URI: "https://b.example/x", URL: "/admin/resources/https:%2F%2Fb.example%2Fx", Alg: "ES256", Lifetime: "2 minutes", Introspects: true}},
		Form: AdminResourceForm{URI: "urn:<typed>", Alg: "RS256", Lifetime: "60", NoSecret: true}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`>the client&#39;s<`, `>provider default<`, `>none</span>`, `>credentials</span>`, `>2 minutes<`,
		`href="/admin/resources/https:%2F%2Fb.example%2Fx"`, `value="urn:&lt;typed&gt;"`, `value="RS256" selected`, `value="60"`,
		`name="no_secret" type="checkbox" value="1" checked`} {
		if !strings.Contains(out, want) {
			t.Errorf("resources page lacks %s", want)
		}
	}
	if strings.Contains(out, "secret-box") {
		t.Error("a secret box without a secret")
	}

	buf.Reset()
	if err := s.AdminResource(&buf, AdminResourcePage{AdminBase: base, URI: "urn:a", URL: "/admin/resources/urn:a"}); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	for _, want := range []string{`action="/admin/resources/urn:a"`, `action="/admin/resources/urn:a/secret"`,
		`action="/admin/resources/urn:a/delete"`, `value="" selected`, ">Generate a secret<", "no introspection credentials"} {
		if !strings.Contains(out, want) {
			t.Errorf("resource page lacks %s", want)
		}
	}
	if strings.Contains(out, "secret-box") {
		t.Error("a secret box without a secret")
	}
}
