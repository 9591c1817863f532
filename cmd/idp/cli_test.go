package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"idp/users"
)

// contractSettings is CONTRACT.md's configuration table.
var contractSettings = []struct{ flag, env, def string }{
	{"issuer", "IDP_ISSUER", "http://localhost:8080"},
	{"addr", "IDP_ADDR", ":8080"},
	{"database", "IDP_DATABASE", "idp.db"},
	{"master-key-file", "IDP_MASTER_KEY_FILE", ""}, // beside the SQLite file
	{"access-token-ttl", "IDP_ACCESS_TOKEN_TTL", "10m"},
	{"refresh-token-ttl", "IDP_REFRESH_TOKEN_TTL", "720h"},
	{"refresh-reuse-grace", "IDP_REFRESH_REUSE_GRACE", "10s"},
	{"key-rotation-interval", "IDP_KEY_ROTATION_INTERVAL", "720h"},
	{"jwks-max-age", "IDP_JWKS_MAX_AGE", "5m"},
	{"log-format", "IDP_LOG_FORMAT", "text"},
}

func TestTopLevelUsage(t *testing.T) {
	parallel(t)
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, _ := runCLI(t, "", arg)
		if code != 0 {
			t.Errorf("idp %s: exit %d, want 0", arg, code)
		}
		for _, c := range []string{"serve", "migrate", "users", "clients", "keys", "audit", "IDP_"} {
			if !strings.Contains(out, c) {
				t.Errorf("idp %s does not mention %q:\n%s", arg, c, out)
			}
		}
	}
	if code, _, _ := runCLI(t, ""); code != 2 {
		t.Errorf("idp without a command: exit %d, want 2", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	parallel(t)
	for _, args := range [][]string{
		{"frobnicate"},
		{"users", "frobnicate"},
		{"clients", "frobnicate"},
		{"keys", "frobnicate"},
		{"audit", "frobnicate"},
	} {
		code, out, errOut := runCLI(t, "", args...)
		if code != 2 {
			t.Errorf("idp %v: exit %d, want 2", args, code)
		}
		if out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "unknown command") ||
			!strings.Contains(errOut, "frobnicate") {
			t.Errorf("idp %v: want one line naming the unknown command on stderr, got stdout %q stderr %q", args, out, errOut)
		}
	}
	// A group without its subcommand, or an unknown flag, is a usage error.
	for _, args := range [][]string{{"users"}, {"clients"}, {"keys"}, {"users", "list", "--bogus"}, {"serve", "--bogus"}} {
		if code, _, errOut := runCLI(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("idp %v: exit %d, stderr %q; want 2 and a usage message", args, code, errOut)
		}
	}
}

// helpText runs `idp ARGS --help`, which must exit 0, and returns what it
// printed (the flag package prints help on stderr).
func helpText(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "", append(args, "--help")...)
	if code != 0 {
		t.Fatalf("idp %v --help: exit %d\n%s%s", args, code, out, errOut)
	}
	return out + errOut
}

func TestServeHelpDescribesEveryContractSetting(t *testing.T) {
	parallel(t)
	help := helpText(t, "serve")
	for _, s := range contractSettings {
		if !strings.Contains(help, "-"+s.flag+" ") {
			t.Errorf("serve --help does not describe --%s:\n%s", s.flag, help)
		}
		if !strings.Contains(help, "env "+s.env) {
			t.Errorf("serve --help does not name %s for --%s", s.env, s.flag)
		}
		if s.def != "" && !strings.Contains(help, "default "+s.def) {
			t.Errorf("serve --help does not give --%s's default %s", s.flag, s.def)
		}
	}
	// The README's copy of the table must agree too: every row is a flag of
	// serve with that environment variable.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Skipf("README.md: %v", err)
	}
	rows := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `(IDP_[A-Z_]+)` \\|").FindAllStringSubmatch(string(readme), -1)
	if len(rows) < len(contractSettings) {
		t.Fatalf("README.md lists %d settings, want at least %d", len(rows), len(contractSettings))
	}
	for _, r := range rows {
		flag, env := r[1], r[2]
		// Each flag's usage runs from "-flag " (a switch: "-flag\n") to
		// the next flag.
		i := strings.Index(help, "  -"+flag+" ")
		if i < 0 {
			i = strings.Index(help, "  -"+flag+"\n")
		}
		if i < 0 {
			t.Errorf("README setting --%s missing from serve --help", flag)
			continue
		}
		usage := help[i+3:]
		if j := strings.Index(usage, "\n  -"); j >= 0 {
			usage = usage[:j]
		}
		if !strings.Contains(usage, "env "+env) {
			t.Errorf("serve --help: --%s does not name %s: %q", flag, env, usage)
		}
	}
}

func TestSubcommandHelp(t *testing.T) {
	parallel(t)
	cases := []struct {
		args  []string
		flags []string
	}{
		{[]string{"migrate"}, nil},
		{[]string{"users", "create"}, []string{"email", "password-stdin", "name", "role"}},
		{[]string{"users", "list"}, []string{"json"}},
		{[]string{"users", "disable"}, []string{"email"}},
		{[]string{"users", "set-password"}, []string{"email", "password-stdin"}},
		{[]string{"clients", "create"}, []string{"id", "redirect-uri", "post-logout-redirect-uri", "public",
			"secret-stdin", "signing-alg", "trusted", "grant-type", "scope", "logo-uri", "client-uri", "policy-uri",
			"tos-uri", "contact", "application-type", "token-endpoint-auth-method", "default-max-age", "require-auth-time"}},
		{[]string{"clients", "update"}, []string{"id", "name", "redirect-uri", "logo-uri", "policy-uri", "tos-uri",
			"contact", "new-secret", "trusted", "require-mfa", "default-max-age", "json"}},
		{[]string{"clients", "list"}, []string{"json"}},
		{[]string{"clients", "delete"}, []string{"id"}},
		{[]string{"resources", "create"}, []string{"id", "name", "scope", "secret-stdin", "no-secret", "signing-alg", "access-token-ttl", "json"}},
		{[]string{"resources", "update"}, []string{"id", "name", "scope", "signing-alg", "access-token-ttl", "new-secret"}},
		{[]string{"resources", "list"}, []string{"json"}},
		{[]string{"resources", "delete"}, []string{"id"}},
		{[]string{"upstreams", "create"}, []string{"id", "name", "kind", "issuer", "auth-url", "token-url", "userinfo-url",
			"github-url", "client-id", "secret-stdin", "scope", "claim-mapping", "allowed-domains",
			"link-by-email", "jit", "roles-claim", "roles-prefix", "required-group", "json"}},
		{[]string{"upstreams", "update"}, []string{"id", "name", "issuer", "auth-url", "token-url", "userinfo-url", "github-url",
			"client-id", "secret-stdin", "scope", "claim-mapping", "allowed-domains",
			"link-by-email", "jit", "roles-claim", "roles-prefix", "required-group"}},
		{[]string{"upstreams", "list"}, []string{"json"}},
		{[]string{"upstreams", "delete"}, []string{"id"}},
		{[]string{"keys", "list"}, []string{"json"}},
		{[]string{"keys", "rotate"}, []string{"alg", "force"}},
		{[]string{"keys", "revoke"}, nil},
		{[]string{"audit", "list"}, []string{"json", "limit", "before"}},
	}
	for _, c := range cases {
		help := helpText(t, c.args...)
		want := append([]string{"database", "master-key-file"}, c.flags...)
		for _, f := range want {
			if !strings.Contains(help, "  -"+f+" ") && !strings.Contains(help, "  -"+f+"\n") {
				t.Errorf("idp %v --help does not describe --%s:\n%s", c.args, f, help)
			}
		}
		for _, env := range []string{"IDP_DATABASE", "IDP_MASTER_KEY_FILE"} {
			if !strings.Contains(help, env) {
				t.Errorf("idp %v --help does not name %s", c.args, env)
			}
		}
	}
	for _, group := range []string{"users", "clients", "resources", "upstreams", "keys", "audit"} {
		helpText(t, group)
	}
}

func TestMigrateTwice(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	first := mustRun(t, "", d.cmd("migrate")...)
	if !regexp.MustCompile(`^database at migration version [1-9][0-9]*\n$`).MatchString(first) {
		t.Fatalf("migrate printed %q", first)
	}
	if second := mustRun(t, "", d.cmd("migrate")...); second != first {
		t.Fatalf("second migrate printed %q, first %q", second, first)
	}
	// migrate also bootstraps the signing keys, exactly once.
	if n := len(listKeys(t, d)); n != 4 {
		t.Fatalf("after two migrates: %d keys, want 4", n)
	}
}

func TestUsers(t *testing.T) {
	parallel(t)
	d := migratedDB(t)

	code, out, errOut := runCLI(t, "correct horse battery\n", d.cmd("users", "create", "--email", "alice@example.com",
		"--password-stdin", "--name", "Alice", "--role", "admin", "--role", "dev")...)
	if code != 0 {
		t.Fatalf("users create: exit %d: %s", code, errOut)
	}
	id := strings.TrimSuffix(out, "\n")
	if id == "" || strings.ContainsAny(id, " \t\n") {
		t.Fatalf("users create printed %q, want one id", out)
	}
	if errOut != "" {
		t.Errorf("users create wrote to stderr: %q", errOut)
	}

	list := listUsers(t, d)
	if len(list) != 1 {
		t.Fatalf("users list: %+v", list)
	}
	u := list[0]
	if u.ID != id || u.Email != "alice@example.com" || u.Name != "Alice" || !slices.Equal(u.Roles, []string{"admin", "dev"}) ||
		u.Disabled || u.Created == "" {
		t.Fatalf("users list --json: %+v (id %s)", u, id)
	}
	table := mustRun(t, "", d.cmd("users", "list")...)
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "EMAIL") ||
		!strings.Contains(lines[1], "alice@example.com") || !strings.Contains(lines[1], id) {
		t.Fatalf("users list table:\n%s", table)
	}

	// Bad input: one line on stderr, nothing written.
	bad := []struct {
		name, stdin string
		args        []string
		want        []string
	}{
		{"duplicate email", "another password", []string{"--email", "alice@example.com", "--password-stdin"}, []string{"already registered"}},
		{"duplicate email other case", "another password", []string{"--email", "ALICE@example.com", "--password-stdin"}, []string{"already registered"}},
		{"empty password", "", []string{"--email", "bob@example.com", "--password-stdin"}, []string{"password", "empty"}},
		{"newline only password", "\n", []string{"--email", "bob@example.com", "--password-stdin"}, []string{"password", "empty"}},
		{"short password", "short\n", []string{"--email", "bob@example.com", "--password-stdin"}, []string{"password", "8"}},
		{"whitespace password", "           \n", []string{"--email", "bob@example.com", "--password-stdin"}, []string{"whitespace"}},
		{"invalid email", "long enough password", []string{"--email", "not-an-email", "--password-stdin"}, []string{"email"}},
		{"no email", "long enough password", []string{"--password-stdin"}, []string{"--email"}},
		{"no password-stdin", "long enough password", []string{"--email", "bob@example.com"}, []string{"--password-stdin"}},
		{"stray argument", "long enough password", []string{"--email", "bob@example.com", "--password-stdin", "extra"}, []string{"extra"}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			wantError(t, b.stdin, b.want, d.cmd(append([]string{"users", "create"}, b.args...)...)...)
		})
	}
	if n := len(listUsers(t, d)); n != 1 {
		t.Fatalf("after refused creates: %d users, want 1", n)
	}

	wantError(t, "", []string{"nobody@example.com", "not found"}, d.cmd("users", "disable", "--email", "nobody@example.com")...)
	wantError(t, "", []string{"--email"}, d.cmd("users", "disable")...)
	wantError(t, "new password 123", []string{"nobody@example.com", "not found"},
		d.cmd("users", "set-password", "--email", "nobody@example.com", "--password-stdin")...)
	wantError(t, "new password 123", []string{"--password-stdin"}, d.cmd("users", "set-password", "--email", "alice@example.com")...)

	// disable, then list shows it.
	if out := mustRun(t, "", d.cmd("users", "disable", "--email", "alice@example.com")...); !strings.Contains(out, "alice@example.com") {
		t.Errorf("users disable printed %q", out)
	}
	if list := listUsers(t, d); len(list) != 1 || !list[0].Disabled {
		t.Fatalf("after disable: %+v", list)
	}
	if table := mustRun(t, "", d.cmd("users", "list")...); !strings.Contains(table, "true") {
		t.Errorf("users list table does not show the user disabled:\n%s", table)
	}
	e := openTestEnv(t, d)
	if _, err := e.Users.Authenticate(t.Context(), "alice@example.com", "correct horse battery"); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Errorf("disabled user signs in: %v", err)
	}

	// set-password: the new password authenticates, the old one does not.
	mustRun(t, "old password 1234\n", d.cmd("users", "create", "--email", "bob@example.com", "--password-stdin")...)
	if _, err := e.Users.Authenticate(t.Context(), "bob@example.com", "old password 1234"); err != nil {
		t.Fatalf("bob with his first password: %v", err)
	}
	wantError(t, "short\n", []string{"password"}, d.cmd("users", "set-password", "--email", "bob@example.com", "--password-stdin")...)
	wantError(t, "", []string{"empty"}, d.cmd("users", "set-password", "--email", "bob@example.com", "--password-stdin")...)
	if _, err := e.Users.Authenticate(t.Context(), "bob@example.com", "old password 1234"); err != nil {
		t.Fatalf("a refused set-password changed the password: %v", err)
	}
	if out := mustRun(t, "new password 5678\n", d.cmd("users", "set-password", "--email", "bob@example.com", "--password-stdin")...); !strings.Contains(out, "bob@example.com") {
		t.Errorf("users set-password printed %q", out)
	}
	if _, err := e.Users.Authenticate(t.Context(), "bob@example.com", "new password 5678"); err != nil {
		t.Errorf("new password does not authenticate: %v", err)
	}
	if _, err := e.Users.Authenticate(t.Context(), "bob@example.com", "old password 1234"); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Errorf("old password still authenticates: %v", err)
	}
	if n := len(listUsers(t, d)); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
}

func TestClients(t *testing.T) {
	parallel(t)
	d := migratedDB(t)

	// Confidential by default, with a generated secret printed once.
	code, out, errOut := runCLI(t, "", d.cmd("clients", "create", "--id", "web", "--name", "Web App",
		"--redirect-uri", "https://app.example.com/cb", "--redirect-uri", "https://app.example.com/cb2",
		"--post-logout-redirect-uri", "https://app.example.com/bye")...)
	if code != 0 {
		t.Fatalf("clients create: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`^client_id: web\nclient_secret: (\S+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed %q", out)
	}
	secret := m[1]
	if len(secret) < 32 {
		t.Errorf("generated secret %q is shorter than 32 bytes", secret)
	}
	if !strings.Contains(errOut, "once") || strings.Contains(errOut, secret) {
		t.Errorf("clients create stderr: %q", errOut)
	}
	e := openTestEnv(t, d)
	if _, err := e.Clients.Authenticate(t.Context(), "web", secret); err != nil {
		t.Errorf("generated secret does not authenticate: %v", err)
	}
	if _, err := e.Clients.Authenticate(t.Context(), "web", secret+"x"); err == nil {
		t.Error("a wrong secret authenticates")
	}

	// --secret-stdin with 32 bytes or more: not echoed.
	own := strings.Repeat("s3cr3t-", 5) // 35 bytes
	out = mustRun(t, own+"\n", d.cmd("clients", "create", "--id", "svc", "--secret-stdin",
		"--grant-type", "client_credentials", "--scope", "idp:admin")...)
	if out != "client_id: svc\n" {
		t.Errorf("clients create --secret-stdin printed %q", out)
	}
	if _, err := e.Clients.Authenticate(t.Context(), "svc", own); err != nil {
		t.Errorf("secret given on stdin does not authenticate: %v", err)
	}

	// --public: no secret.
	out = mustRun(t, "", d.cmd("clients", "create", "--id", "spa", "--public", "--redirect-uri", "http://127.0.0.1:8765/cb")...)
	if out != "client_id: spa\n" {
		t.Errorf("clients create --public printed %q", out)
	}
	// --signing-alg ES256 --trusted, and --json output.
	out = mustRun(t, "", d.cmd("clients", "create", "--id", "first-party", "--signing-alg", "ES256", "--trusted",
		"--redirect-uri", "com.example.app:/cb", "--json")...)
	var created map[string]string
	if err := json.Unmarshal([]byte(out), &created); err != nil || created["client_id"] != "first-party" || len(created["client_secret"]) < 32 {
		t.Errorf("clients create --json printed %q (%v)", out, err)
	}

	byID := map[string]clientJSON{}
	for _, c := range listClients(t, d) {
		byID[c.ID] = c
	}
	if len(byID) != 4 {
		t.Fatalf("clients list: %+v", byID)
	}
	if c := byID["web"]; c.Name != "Web App" || c.Public || c.SigningAlg != "RS256" || c.Trusted ||
		!slices.Equal(c.RedirectURIs, []string{"https://app.example.com/cb", "https://app.example.com/cb2"}) ||
		!slices.Equal(c.PostLogoutRedirectURIs, []string{"https://app.example.com/bye"}) ||
		!slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) || !slices.Contains(c.Scopes, "openid") ||
		slices.Contains(c.Scopes, "idp:admin") {
		t.Errorf("web: %+v", c)
	}
	if c := byID["svc"]; c.Public || !slices.Equal(c.GrantTypes, []string{"client_credentials"}) ||
		!slices.Equal(c.Scopes, []string{"idp:admin"}) || len(c.RedirectURIs) != 0 {
		t.Errorf("svc: %+v", c)
	}
	if c := byID["spa"]; !c.Public || c.SigningAlg != "RS256" {
		t.Errorf("spa: %+v", c)
	}
	if c := byID["first-party"]; c.SigningAlg != "ES256" || !c.Trusted || c.Public {
		t.Errorf("first-party: %+v", c)
	}
	table := mustRun(t, "", d.cmd("clients", "list")...)
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 5 || !strings.Contains(lines[0], "ID") ||
		!strings.Contains(table, "public") || !strings.Contains(table, "ES256") {
		t.Errorf("clients list table:\n%s", table)
	}

	// Bad input: one line, nothing written.
	cb := []string{"--redirect-uri", "https://app.example.com/cb"}
	bad := []struct {
		name, stdin string
		args        []string
		want        []string
	}{
		{"duplicate id", "", append([]string{"--id", "web"}, cb...), []string{"already exists"}},
		{"no id", "", cb, []string{"--id"}},
		{"no redirect uri", "", []string{"--id", "x"}, []string{"redirect URI"}},
		{"space in redirect uri", "", []string{"--id", "x", "--redirect-uri", "not a uri"}, []string{"not a uri"}},
		{"relative redirect uri", "", []string{"--id", "x", "--redirect-uri", "/cb"}, []string{"/cb", "absolute"}},
		{"http redirect uri", "", []string{"--id", "x", "--redirect-uri", "http://app.example.com/cb"}, []string{"https"}},
		{"fragment in redirect uri", "", []string{"--id", "x", "--redirect-uri", "https://app.example.com/cb#f"}, []string{"fragment"}},
		{"javascript redirect uri", "", []string{"--id", "x", "--redirect-uri", "javascript:alert(1)"}, []string{"javascript"}},
		{"bad post-logout uri", "", append([]string{"--id", "x", "--post-logout-redirect-uri", "ftp://x/"}, cb...), []string{"post-logout"}},
		{"unknown alg", "", append([]string{"--id", "x", "--signing-alg", "HS256"}, cb...), []string{"HS256"}},
		{"none alg", "", append([]string{"--id", "x", "--signing-alg", "none"}, cb...), []string{"none"}},
		{"unknown grant", "", append([]string{"--id", "x", "--grant-type", "password"}, cb...), []string{"password"}},
		{"refresh without code", "", append([]string{"--id", "x", "--grant-type", "refresh_token"}, cb...), []string{"refresh_token"}},
		{"public client_credentials", "", []string{"--id", "x", "--public", "--grant-type", "client_credentials"}, []string{"client_credentials"}},
		{"public with secret", strings.Repeat("a", 40), append([]string{"--id", "x", "--public", "--secret-stdin"}, cb...), []string{"secret"}},
		{"short secret", strings.Repeat("a", 31) + "\n", append([]string{"--id", "x", "--secret-stdin"}, cb...), []string{"at least 32 bytes"}},
		{"empty secret", "", append([]string{"--id", "x", "--secret-stdin"}, cb...), []string{"empty"}},
		{"bad scope", "", append([]string{"--id", "x", "--scope", `a"b`}, cb...), []string{"scope"}},
		{"bad id", "", append([]string{"--id", "no spaces please"}, cb...), []string{"no spaces please"}},
		{"several problems", "", []string{"--id", "x", "--signing-alg", "HS256", "--redirect-uri", "/cb"}, []string{"HS256", "/cb"}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			wantError(t, b.stdin, b.want, d.cmd(append([]string{"clients", "create"}, b.args...)...)...)
		})
	}
	if n := len(listClients(t, d)); n != 4 {
		t.Fatalf("after refused creates: %d clients, want 4", n)
	}

	// delete, then deleting again (or anything unknown) fails.
	if out := mustRun(t, "", d.cmd("clients", "delete", "--id", "spa")...); !strings.Contains(out, "spa") {
		t.Errorf("clients delete printed %q", out)
	}
	for _, c := range listClients(t, d) {
		if c.ID == "spa" {
			t.Fatal("deleted client still listed")
		}
	}
	wantError(t, "", []string{"spa", "not found"}, d.cmd("clients", "delete", "--id", "spa")...)
	wantError(t, "", []string{"nope", "not found"}, d.cmd("clients", "delete", "--id", "nope")...)
	wantError(t, "", []string{"--id"}, d.cmd("clients", "delete")...)
	if n := len(listClients(t, d)); n != 3 {
		t.Fatalf("%d clients, want 3", n)
	}
}

var rfc3339UTC = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestKeys(t *testing.T) {
	parallel(t)
	d := migratedDB(t)

	initial := listKeys(t, d)
	if len(initial) != 4 {
		t.Fatalf("keys list after bootstrap: %+v", initial)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		for _, state := range []string{"active", "next"} {
			if k := keysBy(initial, alg, state); len(k) != 1 || k[0].KID == "" || k[0].Created == "" {
				t.Errorf("%s %s keys: %+v", alg, state, k)
			}
		}
	}
	table := mustRun(t, "", d.cmd("keys", "list")...)
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) < 5 || !strings.Contains(lines[0], "KID") ||
		!strings.Contains(lines[0], "SIGNS-FROM") || !strings.Contains(lines[0], "NOT-AFTER") || strings.TrimSpace(lines[5]) != "" ||
		!strings.Contains(table, "No idp serve process is running") {
		t.Errorf("keys list table:\n%s", table)
	}

	// Right after bootstrap the next keys are younger than the JWKS max-age:
	// refused, saying when it becomes safe and how to override.
	for _, args := range [][]string{{"keys", "rotate"}, {"keys", "rotate", "--alg", "ES256"}} {
		errOut := wantError(t, "", []string{"--force"}, d.cmd(args...)...)
		if !rfc3339UTC.MatchString(errOut) || !strings.Contains(errOut, "before") {
			t.Errorf("idp %v: refusal does not say when it is safe: %s", args, errOut)
		}
	}
	wantError(t, "", []string{"HS256"}, d.cmd("keys", "rotate", "--alg", "HS256")...)
	wantError(t, "", []string{"none"}, d.cmd("keys", "rotate", "--alg", "none", "--force")...)
	if after := listKeys(t, d); !slices.Equal(after, initial) {
		t.Fatalf("refused rotations changed the keys:\n%+v\n%+v", initial, after)
	}

	// --force rotates RS256 only.
	out := mustRun(t, "", d.cmd("keys", "rotate", "--force", "--alg", "RS256")...)
	oldActive, oldNext := keysBy(initial, "RS256", "active")[0], keysBy(initial, "RS256", "next")[0]
	if !strings.Contains(out, oldNext.KID) || !strings.Contains(out, oldActive.KID) {
		t.Errorf("keys rotate printed %q", out)
	}
	rotated := listKeys(t, d)
	if len(rotated) != 5 {
		t.Fatalf("after rotation: %+v", rotated)
	}
	retired := keysBy(rotated, "RS256", "retired")
	if len(retired) != 1 || retired[0].KID != oldActive.KID || retired[0].NotAfter == "" || retired[0].Retired == "" {
		t.Errorf("retired RS256: %+v", retired)
	}
	if a := keysBy(rotated, "RS256", "active"); len(a) != 1 || a[0].KID != oldNext.KID {
		t.Errorf("active RS256 is not the former next key: %+v", a)
	}
	if n := keysBy(rotated, "RS256", "next"); len(n) != 1 || n[0].KID == oldNext.KID || n[0].KID == oldActive.KID {
		t.Errorf("next RS256: %+v", n)
	}
	for _, state := range []string{"active", "next"} {
		if !slices.Equal(keysBy(rotated, "ES256", state), keysBy(initial, "ES256", state)) {
			t.Errorf("rotating RS256 changed the %s ES256 key", state)
		}
	}
	if table := mustRun(t, "", d.cmd("keys", "list")...); !strings.Contains(table, "retired") {
		t.Errorf("keys list table does not show the retired key:\n%s", table)
	}

	// The command has no key-schedule flags of its own any more: it judges
	// from the times stored with the keys, so it cannot be told to wait
	// less than the running servers require.
	if code, out, errOut := runCLI(t, "", d.cmd("keys", "rotate", "--alg", "ES256", "--jwks-max-age", "0s")...); code == 0 || out != "" ||
		!strings.Contains(errOut, "flag provided but not defined: -jwks-max-age") {
		t.Fatalf("keys rotate --jwks-max-age 0s: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	mustRun(t, "", d.cmd("keys", "rotate", "--alg", "ES256", "--force")...)
	rotated = listKeys(t, d)
	if r := keysBy(rotated, "ES256", "retired"); len(r) != 1 || r[0].KID != keysBy(initial, "ES256", "active")[0].KID {
		t.Errorf("ES256 rotation with --jwks-max-age 0s: %+v", rotated)
	}

	// A KID beginning with "-" (one in 64 thumbprints) is a KID, not a flag.
	if code, _, errOut := runCLI(t, "", d.cmd("keys", "revoke", "-NoSuchKid0")...); code != 1 || !strings.Contains(errOut, "revoke key -NoSuchKid0") {
		t.Errorf("keys revoke -NoSuchKid0: exit %d, %s", code, errOut)
	}
	// Revoke the active ES256 key (flags after the KID work too).
	active := keysBy(rotated, "ES256", "active")[0]
	out = mustRun(t, "", d.cmd("keys", "revoke", active.KID)...)
	if !strings.Contains(out, "revoked "+active.KID) {
		t.Errorf("keys revoke printed %q", out)
	}
	revoked := listKeys(t, d)
	var found bool
	for _, k := range revoked {
		if k.KID == active.KID {
			found = true
			if k.State != "revoked" {
				t.Errorf("revoked key is %s", k.State)
			}
		}
	}
	if !found {
		t.Error("revoked key no longer listed")
	}
	if a := keysBy(revoked, "ES256", "active"); len(a) != 1 || a[0].KID == active.KID {
		t.Errorf("after revoking the active ES256 key: active %+v", a)
	}
	e := openTestEnv(t, d)
	jwks, err := e.Keys.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(jwks.JSON), active.KID) {
		t.Error("revoked key still in the JWKS")
	}

	wantError(t, "", []string{"already revoked"}, append(append([]string{"keys", "revoke"}, d.flags()...), active.KID)...)
	wantError(t, "", []string{"no-such-kid", "not found"}, d.cmd("keys", "revoke", "no-such-kid")...)
	wantError(t, "", []string{"KID"}, d.cmd("keys", "revoke")...)
	wantError(t, "", []string{"KID"}, d.cmd("keys", "revoke", "a", "b")...)
	if n := len(listKeys(t, d)); n != len(revoked) {
		t.Errorf("failed revokes changed the key count: %d, want %d", n, len(revoked))
	}
}

// Every command against a database that cannot be opened fails with one
// line on stderr and no stack trace.
func TestUnreachableDatabase(t *testing.T) {
	parallel(t)
	keyFile := writeKeyFile(t)
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "idp.db")
	dbs := map[string][]string{
		"postgres": {"--database", "postgres://nobody@127.0.0.1:1/x?connect_timeout=1", "--master-key-file", keyFile},
		"sqlite":   {"--database", missingDir},
	}
	commands := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"migrate"}},
		{"long enough password", []string{"users", "create", "--email", "a@example.com", "--password-stdin"}},
		{"", []string{"users", "list"}},
		{"", []string{"users", "list", "--json"}},
		{"", []string{"users", "disable", "--email", "a@example.com"}},
		{"long enough password", []string{"users", "set-password", "--email", "a@example.com", "--password-stdin"}},
		{"", []string{"clients", "create", "--id", "web", "--redirect-uri", "https://app.example.com/cb"}},
		{"", []string{"clients", "list"}},
		{"", []string{"clients", "delete", "--id", "web"}},
		{"", []string{"keys", "list"}},
		{"", []string{"keys", "rotate", "--force"}},
		{"", []string{"keys", "revoke", "some-kid"}},
		{"", []string{"audit", "list"}},
	}
	for name, flags := range dbs {
		for _, c := range commands {
			args := append(append([]string{}, c.args...), flags...)
			wantError(t, c.stdin, []string{"open database"}, args...)
		}
		if name == "sqlite" {
			if _, err := os.Stat(filepath.Dir(missingDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the missing directory was created: %v", err)
			}
		}
	}
	// serve too, before listening.
	wantError(t, "", []string{"open database"}, append([]string{"serve", "--addr", "127.0.0.1:0"}, dbs["sqlite"]...)...)
	wantError(t, "", []string{"open database"}, append([]string{"serve", "--addr", "127.0.0.1:0"}, dbs["postgres"]...)...)
}

func TestAudit(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "long enough password", d.cmd("users", "create", "--email", "a@example.com", "--password-stdin")...)
	wantError(t, "long enough password", []string{"already registered"}, d.cmd("users", "create", "--email", "a@example.com", "--password-stdin")...)
	mustRun(t, "", d.cmd("clients", "create", "--id", "web", "--redirect-uri", "https://app.example.com/cb")...)
	mustRun(t, "", d.cmd("keys", "rotate", "--force", "--alg", "ES256")...)

	type event struct {
		At     string `json:"at"`
		Actor  string `json:"actor"`
		Action string `json:"action"`
		Target string `json:"target"`
		Via    string `json:"via"`
	}
	events := listJSON[event](t, d, "audit")
	var actions []string
	for i, ev := range events {
		actions = append(actions, ev.Action)
		if ev.Via != "cli" || !strings.HasPrefix(ev.Actor, "cli") {
			t.Errorf("event %+v not attributed to the CLI", ev)
		}
		if i > 0 && events[i-1].At < ev.At {
			t.Errorf("audit list is not newest first: %s before %s", events[i-1].At, ev.At)
		}
	}
	// Newest first: the rotation, the client, the one user (the refused
	// duplicate left no event), then the bootstrap's keys.
	if len(actions) < 3 || !strings.HasPrefix(actions[0], "key.") || !strings.HasPrefix(actions[1], "client.") ||
		!strings.HasPrefix(actions[2], "user.") {
		t.Fatalf("audit actions: %v", actions)
	}
	if n := slices.IndexFunc(actions[3:], func(a string) bool { return strings.HasPrefix(a, "user.") }); n >= 0 {
		t.Errorf("a refused command was audited: %v", actions)
	}
	if out := mustRun(t, "", d.cmd("audit", "list", "--limit", "2")...); len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Errorf("audit list --limit 2:\n%s", out)
	}
	wantError(t, "", []string{"--limit"}, d.cmd("audit", "list", "--limit", "0")...)
	wantError(t, "", []string{"--before"}, d.cmd("audit", "list", "--before", "yesterday")...)
}
