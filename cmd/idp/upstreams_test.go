package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"idp/db"
)

// TestUpstreamsCLI: create, list, update and delete an upstream; the
// client secret is read from stdin, never printed and never stored in
// the clear; bad input is refused with the reason.
func TestUpstreamsCLI(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	const secret = "upstream-client-secret-0123456789"
	out := mustRun(t, secret, d.cmd("upstreams", "create", "--id", "corp", "--name", "Corp SSO", "--issuer", "https://sso.corp.example",
		"--client-id", "idp", "--secret-stdin", "--scope", "email", "--scope", "profile", "--allowed-domains", "corp.example, Sub.Corp.Example",
		"--link-by-email", "--roles-claim", "groups", "--roles-prefix", "idp-")...)
	if !strings.Contains(out, "redirect_uri: http://localhost:8080/login/upstream/corp/callback") || strings.Contains(out, secret) {
		t.Fatalf("create printed %q", out)
	}
	wantError(t, "", []string{"already"}, d.cmd("upstreams", "create", "--id", "corp", "--name", "X", "--issuer", "https://x.example", "--client-id", "c")...)
	wantError(t, "", []string{"https"}, d.cmd("upstreams", "create", "--id", "plain", "--name", "X", "--issuer", "http://x.example", "--client-id", "c")...)
	wantError(t, "", []string{"lowercase"}, d.cmd("upstreams", "create", "--id", "Bad/Id", "--name", "X", "--issuer", "https://x.example", "--client-id", "c")...)
	wantError(t, "", []string{"needs --id"}, d.cmd("upstreams", "create", "--name", "X")...)
	wantError(t, "", []string{"roles claim"}, d.cmd("upstreams", "create", "--id", "g", "--name", "G", "--issuer", "https://x.example",
		"--client-id", "c", "--required-group", "staff")...)

	var list []upstreamView
	if err := json.Unmarshal([]byte(mustRun(t, "", d.cmd("upstreams", "list", "--json")...)), &list); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	u := list[0]
	if u.ID != "corp" || u.Name != "Corp SSO" || !u.HasSecret || !u.LinkByEmail || u.JIT || u.RolesClaim != "groups" ||
		u.RolesPrefix != "idp-" || strings.Join(u.Scopes, " ") != "openid email profile" ||
		strings.Join(u.AllowedDomains, ",") != "corp.example,sub.corp.example" {
		t.Fatalf("listed %+v", u)
	}
	if !db.IsPostgres(d.dsn) {
		for _, f := range []string{d.dsn, d.dsn + "-wal"} {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), secret) {
				t.Fatalf("%s holds the client secret in the clear", f)
			}
		}
	}

	mustRun(t, "", d.cmd("upstreams", "update", "--id", "corp", "--jit", "--link-by-email=false", "--allowed-domains", "")...)
	_ = json.Unmarshal([]byte(mustRun(t, "", d.cmd("upstreams", "list", "--json")...)), &list)
	if u := list[0]; !u.JIT || u.LinkByEmail || len(u.AllowedDomains) != 0 || !u.HasSecret || u.RolesClaim != "groups" {
		t.Fatalf("after update %+v", u)
	}
	wantError(t, "", []string{"nothing to change"}, d.cmd("upstreams", "update", "--id", "corp")...)
	wantError(t, "", []string{"no such upstream"}, d.cmd("upstreams", "update", "--id", "ghost", "--jit")...)
	mustRun(t, "", d.cmd("upstreams", "delete", "--id", "corp")...)
	wantError(t, "", []string{"no such upstream"}, d.cmd("upstreams", "delete", "--id", "corp")...)
	if out := mustRun(t, "", d.cmd("upstreams", "list")...); strings.Contains(out, "corp") {
		t.Fatalf("list after delete: %q", out)
	}
}
