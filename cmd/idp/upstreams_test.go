package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"idp/admin"
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

	var list []admin.Upstream
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

// TestUpstreamsCLIKinds: oauth2 and github upstreams with a claim
// mapping, created, listed and updated; each kind refuses the settings
// of another, and a bad mapping is refused with the reason.
func TestUpstreamsCLIKinds(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	mustRun(t, "s3cret", d.cmd("upstreams", "create", "--id", "api", "--name", "API", "--kind", "oauth2",
		"--auth-url", "https://api.example/oauth/authorize", "--token-url", "https://api.example/oauth/token",
		"--userinfo-url", "https://api.example/me", "--client-id", "idp", "--secret-stdin",
		"--claim-mapping", "sub=id,email=mail", "--claim-mapping", "name=display_name", "--roles-claim", "teams")...)
	mustRun(t, "s3cret", d.cmd("upstreams", "create", "--id", "ghe", "--name", "GitHub", "--kind", "github",
		"--github-url", "https://github.corp.example", "--client-id", "Iv1.abc", "--secret-stdin", "--scope", "read:org",
		"--roles-claim", "groups", "--required-group", "corp/staff")...)

	for _, c := range []struct {
		want []string
		args []string
	}{
		{[]string{`field "subject" is not one of`}, []string{"--kind", "oauth2", "--auth-url", "https://a.example/a", "--token-url", "https://a.example/t",
			"--userinfo-url", "https://a.example/u", "--claim-mapping", "subject=id"}},
		{[]string{"is not FIELD=CLAIM"}, []string{"--kind", "github", "--claim-mapping", "sub"}},
		{[]string{"needs auth url", "needs userinfo url"}, []string{"--kind", "oauth2", "--token-url", "https://a.example/t"}},
		{[]string{"must be https"}, []string{"--kind", "oauth2", "--auth-url", "http://a.example/a", "--token-url", "https://a.example/t",
			"--userinfo-url", "https://a.example/u"}},
		{[]string{`issuer is not used by kind "github"`}, []string{"--kind", "github", "--issuer", "https://github.com"}},
		{[]string{`kind "ldap" is not one of`}, []string{"--kind", "ldap"}},
		{[]string{"--issuer for kind oidc"}, []string{"--kind", "oidc"}},
		{[]string{"contradicts --roles-claim"}, []string{"--kind", "github", "--claim-mapping", "roles=groups", "--roles-claim", "teams"}},
	} {
		args := append([]string{"upstreams", "create", "--id", "bad", "--name", "Bad", "--client-id", "c"}, c.args...)
		wantError(t, "", c.want, d.cmd(args...)...)
	}

	list := map[string]admin.Upstream{}
	var views []admin.Upstream
	if err := json.Unmarshal([]byte(mustRun(t, "", d.cmd("upstreams", "list", "--json")...)), &views); err != nil || len(views) != 2 {
		t.Fatalf("list: %+v %v", views, err)
	}
	for _, v := range views {
		list[v.ID] = v
	}
	if api := list["api"]; api.Kind != "oauth2" || api.Issuer != "" || api.AuthURL != "https://api.example/oauth/authorize" ||
		api.UserinfoURL != "https://api.example/me" || api.ClaimMapping != "email=mail,name=display_name,sub=id" || api.RolesClaim != "teams" ||
		strings.Join(api.Scopes, " ") != "" {
		t.Errorf("api listed as %+v", api)
	}
	if gh := list["ghe"]; gh.Kind != "github" || gh.GitHubURL != "https://github.corp.example" ||
		strings.Join(gh.Scopes, " ") != "read:org user:email" || gh.RequiredGroup != "corp/staff" || gh.ClaimMapping != "" || gh.RolesClaim != "groups" {
		t.Errorf("ghe listed as %+v", gh)
	}
	if out := mustRun(t, "", d.cmd("upstreams", "list")...); !strings.Contains(out, "KIND") || !strings.Contains(out, "oauth2") ||
		!strings.Contains(out, "https://github.corp.example") {
		t.Errorf("list: %q", out)
	}

	mustRun(t, "", d.cmd("upstreams", "update", "--id", "api", "--claim-mapping", "name=,email_verified=mail_ok",
		"--userinfo-url", "https://api.example/v2/me")...)
	_ = json.Unmarshal([]byte(mustRun(t, "", d.cmd("upstreams", "list", "--json")...)), &views)
	if api := views[0]; api.ClaimMapping != "email=mail,email_verified=mail_ok,sub=id" || api.RolesClaim != "teams" || api.UserinfoURL != "https://api.example/v2/me" {
		t.Errorf("after update: %+v", api)
	}
	wantError(t, "", []string{"given twice"}, d.cmd("upstreams", "update", "--id", "api", "--claim-mapping", "sub=a,sub=b")...)
	wantError(t, "", []string{"needs userinfo url"}, d.cmd("upstreams", "update", "--id", "api", "--userinfo-url", "")...)
	wantError(t, "", []string{"contradicts"}, d.cmd("upstreams", "update", "--id", "api", "--claim-mapping", "roles=a", "--roles-claim", "b")...)
	wantError(t, "", []string{`auth url is not used by kind "github"`}, d.cmd("upstreams", "update", "--id", "ghe", "--auth-url", "https://x.example/a")...)
	wantError(t, "", []string{"nothing to change"}, d.cmd("upstreams", "update", "--id", "api")...)

	help := helpText(t, "upstreams", "create")
	for _, f := range []string{"kind", "auth-url", "token-url", "userinfo-url", "github-url", "claim-mapping"} {
		if !strings.Contains(help, "  -"+f+" ") {
			t.Errorf("upstreams create --help lacks --%s", f)
		}
	}
}
