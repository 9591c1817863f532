package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// setEnv makes osGetenv see env (and nothing else) for the rest of the
// test. Such tests must not be parallel.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := osGetenv
	osGetenv = func(k string) string { return env[k] }
	t.Cleanup(func() { osGetenv = old })
}

// parseServe resolves serve's configuration from args and osGetenv.
func parseServe(args ...string) (Config, error) {
	return serveConfig(args, stdio{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
}

// configValue returns the Config field of a setting, as text.
func configValue(c Config, flag string) string {
	switch flag {
	case "issuer":
		return c.Issuer
	case "addr":
		return c.Addr
	case "database":
		return c.Database
	case "master-key-file":
		return c.MasterKeyFile
	case "access-token-ttl":
		return c.AccessTokenTTL.String()
	case "refresh-token-ttl":
		return c.RefreshTokenTTL.String()
	case "refresh-reuse-grace":
		return c.RefreshReuseGrace.String()
	case "key-rotation-interval":
		return c.RotationInterval.String()
	case "jwks-max-age":
		return c.JWKSMaxAge.String()
	case "log-format":
		return c.LogFormat
	}
	panic("unknown setting " + flag)
}

// canonical normalises a duration setting's text ("10m" -> "10m0s").
func canonical(v string) string {
	if d, err := time.ParseDuration(v); err == nil {
		return d.String()
	}
	return v
}

func TestConfigDefaultsAreTheContract(t *testing.T) {
	c, err := parseServe()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range contractSettings {
		want := canonical(s.def)
		if s.flag == "master-key-file" {
			want = "idp.db.master.key" // beside the default SQLite file
		}
		if got := configValue(c, s.flag); got != want {
			t.Errorf("default --%s = %q, want %q", s.flag, got, want)
		}
	}
}

func TestConfigFlagBeatsEnvBeatsDefault(t *testing.T) {
	values := map[string][2]string{ // flag: {env value, flag value}
		"issuer":                {"https://env.example.com", "https://flag.example.com/tenant"},
		"addr":                  {"127.0.0.1:1111", "127.0.0.1:2222"},
		"database":              {"env.db", "flag.db"},
		"master-key-file":       {"/env/master.key", "/flag/master.key"},
		"access-token-ttl":      {"2m", "3m"},
		"refresh-token-ttl":     {"2h", "3h"},
		"refresh-reuse-grace":   {"0s", "3s"},
		"key-rotation-interval": {"48h", "72h"},
		"jwks-max-age":          {"1m", "2m"},
		"log-format":            {"json", "text"},
	}
	for _, s := range contractSettings {
		v, ok := values[s.flag]
		if !ok {
			t.Fatalf("no test values for --%s", s.flag)
		}
		envValue, flagValue := v[0], v[1]

		setEnv(t, map[string]string{s.env: envValue})
		c, err := parseServe()
		if err != nil {
			t.Fatalf("%s=%s: %v", s.env, envValue, err)
		}
		if got := configValue(c, s.flag); got != canonical(envValue) {
			t.Errorf("%s=%s: --%s = %q, want the environment's", s.env, envValue, s.flag, got)
		}

		c, err = parseServe("--" + s.flag + "=" + flagValue)
		if err != nil {
			t.Fatalf("--%s=%s: %v", s.flag, flagValue, err)
		}
		if got := configValue(c, s.flag); got != canonical(flagValue) {
			t.Errorf("%s=%s --%s=%s: got %q, want the flag's", s.env, envValue, s.flag, flagValue, got)
		}

		setEnv(t, map[string]string{})
		c, err = parseServe()
		if err != nil {
			t.Fatal(err)
		}
		if got := configValue(c, s.flag); s.def != "" && got != canonical(s.def) {
			t.Errorf("no flag, no env: --%s = %q, want the default %q", s.flag, got, s.def)
		}
	}
	// The environment's master key file applies with an environment database.
	setEnv(t, map[string]string{"IDP_DATABASE": "postgres://u@db/idp", "IDP_MASTER_KEY_FILE": "/run/secrets/mk"})
	if c, err := parseServe(); err != nil || c.MasterKeyFile != "/run/secrets/mk" || c.Database != "postgres://u@db/idp" {
		t.Errorf("env database and key file: %+v, %v", c, err)
	}
}

type resolveCase struct {
	args          []string
	env           map[string]string
	value, source string
}

// Every setting of serve, the contract's and any added since, resolves
// flag > environment > default.
func TestSettingsResolveFlagEnvDefault(t *testing.T) {
	parallel(t)
	for _, st := range serveSettings() {
		if !strings.HasPrefix(st.env, "IDP_") || st.usage == "" {
			t.Errorf("--%s: env %q, usage %q", st.flag, st.env, st.usage)
		}
		env := map[string]string{st.env: "from-env"}
		cases := []resolveCase{
			{nil, nil, st.def, "default"},
			{nil, env, "from-env", "env"},
			{[]string{"--" + st.flag, "from-flag"}, env, "from-flag", "flag"},
			{[]string{"--" + st.flag + "="}, env, "", "flag"}, // explicitly empty still wins
		}
		if st.boolean { // a switch: alone it is true, and =false beats the environment
			env = map[string]string{st.env: "true"}
			cases = cases[:1]
			cases = append(cases, resolveCase{nil, env, "true", "env"}, resolveCase{[]string{"--" + st.flag}, nil, "true", "flag"},
				resolveCase{[]string{"--" + st.flag + "=false"}, env, "false", "flag"})
		}
		for _, c := range cases {
			fs := newSettingsFlagSet(stdio{out: io.Discard, err: io.Discard}, "serve", "serve", serveSettings()...)
			if err := parse(fs.FlagSet, c.args); err != nil {
				t.Fatal(err)
			}
			fs.s.resolve(fs.FlagSet, func(k string) string { return c.env[k] })
			if got := fs.s.get(st.flag); got.value != c.value || got.source != c.source {
				t.Errorf("--%s with args %v env %v: %q from %s, want %q from %s", st.flag, c.args, c.env,
					got.value, got.source, c.value, c.source)
			}
		}
	}
}

// The admin commands read IDP_DATABASE too, and --database wins over it.
func TestConfigEnvSelectsDatabaseForAdminCommands(t *testing.T) {
	d := migratedDB(t)
	env := map[string]string{"IDP_DATABASE": d.dsn}
	if d.keyFile != "" {
		env["IDP_MASTER_KEY_FILE"] = d.keyFile
	}
	setEnv(t, env)
	mustRun(t, "long enough password", "users", "create", "--email", "env@example.com", "--password-stdin")
	if list := listUsers(t, d); len(list) != 1 || list[0].Email != "env@example.com" {
		t.Fatalf("user created through IDP_DATABASE: %+v", list)
	}
	other := migratedDB(t) // --database (and its key file) beat the environment
	mustRun(t, "long enough password", other.cmd("users", "create", "--email", "flag@example.com", "--password-stdin")...)
	if list := listUsers(t, other); len(list) != 1 || list[0].Email != "flag@example.com" {
		t.Fatalf("flag database: %+v", list)
	}
	if n := len(listUsers(t, d)); n != 1 {
		t.Fatalf("env database has %d users, want 1", n)
	}
	out := mustRun(t, "", "users", "list", "--json")
	if !strings.Contains(out, "env@example.com") || strings.Contains(out, "flag@example.com") {
		t.Fatalf("users list without --database: %s", out)
	}
}

func TestConfigReportsEveryProblemInOneLine(t *testing.T) {
	parallel(t)
	dbPath := filepath.Join(t.TempDir(), "idp.db")
	errOut := wantError(t, "", []string{
		"--issuer must be an absolute URL without query or fragment",
		"--access-token-ttl", `"abc" is not a duration`,
		"--log-format must be text or json",
	}, "serve", "--database", dbPath, "--issuer", "not-a-url", "--access-token-ttl", "abc", "--log-format", "xml")
	if strings.Count(errOut, "; ") != 2 {
		t.Errorf("want three problems joined with \"; \": %s", errOut)
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Errorf("a refused configuration created the database: %v", err)
	}

	_, err := parseServe("--addr", "nonsense", "--refresh-token-ttl", "1s", "--refresh-reuse-grace", "-1s",
		"--access-token-ttl", "0s", "--jwks-max-age", "48h", "--key-rotation-interval", "bad", "--database", "")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--addr", "--refresh-token-ttl must be at least 1m0s", "--refresh-reuse-grace must be at least 0s",
		"--access-token-ttl must be at least 1s", "--jwks-max-age must be at most 24h0m0s", "--key-rotation-interval",
		"--database must not be empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from: %v", want, err)
		}
	}
	if _, err := parseServe("--key-rotation-interval", "5m", "--jwks-max-age", "10m"); err == nil ||
		!strings.Contains(err.Error(), "--key-rotation-interval must be longer than --jwks-max-age") {
		t.Errorf("rotation interval not longer than the JWKS max-age: %v", err)
	}
	if _, err := parseServe("--refresh-reuse-grace", "0s", "--log-format", "json", "--jwks-max-age", "0s"); err != nil {
		t.Errorf("valid edge values refused: %v", err)
	}
}

func TestConfigIssuer(t *testing.T) {
	parallel(t)
	for _, ok := range []string{"http://localhost:8080", "https://idp.example.com", "https://idp.example.com/tenant",
		"https://idp.example.com:8443/a/b"} {
		if c, err := parseServe("--issuer", ok); err != nil || c.Issuer != ok {
			t.Errorf("--issuer %s: %v", ok, err)
		}
	}
	for _, bad := range []struct{ issuer, want string }{
		{"https://idp.example.com?tenant=a", "without query or fragment"},
		{"https://idp.example.com?", "without query or fragment"},
		{"https://idp.example.com#frag", "without query or fragment"},
		{"https://idp.example.com#", "without query or fragment"},
		{"https://idp.example.com/", "must not end with a slash"},
		{"https://idp.example.com/tenant/", "must not end with a slash"},
		{"idp.example.com", "absolute URL"},
		{"/relative", "absolute URL"},
		{"", "absolute URL"},
		{"https://user:pw@idp.example.com", "--issuer"},
		{"ftp://idp.example.com", "https"},
	} {
		_, err := parseServe("--issuer", bad.issuer)
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "--issuer") {
			t.Errorf("--issuer %q: %v, want an error containing %q", bad.issuer, err, bad.want)
		}
	}
	// Through the CLI: one line, exit 1.
	wantError(t, "", []string{"must not end with a slash"}, "serve", "--issuer", "https://idp.example.com/")
}

func TestConfigPostgresNeedsMasterKeyFile(t *testing.T) {
	parallel(t)
	pg := "postgres://idp@127.0.0.1:1/idp?connect_timeout=1"
	if _, err := parseServe("--database", pg); err == nil || !strings.Contains(err.Error(), "--master-key-file is required") {
		t.Errorf("postgres without a master key file: %v", err)
	}
	if c, err := parseServe("--database", "postgresql://idp@db/idp", "--master-key-file", "/k"); err != nil || c.MasterKeyFile != "/k" {
		t.Errorf("postgres with a master key file: %+v %v", c, err)
	}
	wantError(t, "", []string{"--master-key-file is required"}, "serve", "--database", pg)
	wantError(t, "", []string{"--master-key-file is required"}, "users", "list", "--database", pg)
	wantError(t, "", []string{"--master-key-file is required"}, "migrate", "--database", pg)
}

func TestConfigDefaultMasterKeyBesideSQLite(t *testing.T) {
	parallel(t)
	for db, want := range map[string]string{
		"idp.db":             "idp.db.master.key",
		"data/my.db":         filepath.Join("data", "my.db.master.key"),
		"/var/lib/idp/x.db":  "/var/lib/idp/x.db.master.key",
		"../rel/../other.db": filepath.Join("..", "other.db.master.key"),
	} {
		c, err := parseServe("--database", db)
		if err != nil || c.MasterKeyFile != want {
			t.Errorf("--database %s: master key file %q (%v), want %q", db, c.MasterKeyFile, err, want)
		}
	}

	// The commands create it there, mode 0600, once.
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "sub.db")
	mustRun(t, "", "migrate", "--database", dbPath)
	keyPath := filepath.Join(dir, "sub.db.master.key")
	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("master key not beside the database: %v", err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != 32 {
		t.Errorf("master key file: mode %v, %d bytes; want 0600, 32", st.Mode().Perm(), st.Size())
	}
	key, _ := os.ReadFile(keyPath)
	mustRun(t, "", "keys", "list", "--database", dbPath)
	if again, _ := os.ReadFile(keyPath); !bytes.Equal(key, again) {
		t.Error("the master key changed on the second command")
	}
}

// A KID may begin with "-" (base64url); keys revoke must take it as the KID
// wherever it stands, and still parse the flags around it.
func TestSplitPositional(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("database", "", "")
	fs.Bool("force", false, "")
	for _, tc := range []struct {
		args       []string
		flags, pos []string
	}{
		{[]string{"-Gcg", "--database", "x.db"}, []string{"--database", "x.db"}, []string{"-Gcg"}},
		{[]string{"--database", "-odd.db", "--Gcg"}, []string{"--database", "-odd.db"}, []string{"--Gcg"}},
		{[]string{"--force", "abc", "--database=x"}, []string{"--force", "--database=x"}, []string{"abc"}},
		{[]string{"--", "--database"}, nil, []string{"--database"}},
		{[]string{"-h"}, []string{"-h"}, nil},
		{[]string{"-", "---x", "-=y"}, nil, []string{"-", "---x", "-=y"}},
		{[]string{"--database"}, []string{"--database"}, nil},
	} {
		flags, pos := splitPositional(fs, tc.args)
		if !slices.Equal(flags, tc.flags) || !slices.Equal(pos, tc.pos) {
			t.Errorf("splitPositional(%q) = %q, %q; want %q, %q", tc.args, flags, pos, tc.flags, tc.pos)
		}
	}
}
