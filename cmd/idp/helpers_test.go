package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"idp/db"
	"idp/db/dbtest"
)

// TestMain makes every test hermetic: the IDP_* variables of whoever runs
// the tests must not leak into the commands. Tests that exercise the
// environment swap osGetenv themselves (and are not parallel).
func TestMain(m *testing.M) {
	osGetenv = func(string) string { return "" }
	os.Exit(m.Run())
}

// parallel marks t parallel on SQLite only. On PostgreSQL every command
// migrates under goose's session lock, which is one lock for the whole
// server, retried every 5 s: commands of parallel tests would mostly wait.
func parallel(t *testing.T) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Parallel()
	}
}

// runCLI runs idp in-process with args and stdin, as `idp ARGS < stdin`.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

// mustRun runs idp and fails the test unless it exits 0; it returns stdout.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, stdin, args...)
	if code != 0 {
		t.Fatalf("idp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// wantError checks the contract for a failed command: a non-zero exit,
// nothing on stdout, and exactly one line on stderr, prefixed "idp: ",
// without a stack trace, containing every one of wants.
func wantError(t *testing.T, stdin string, wants []string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, stdin, args...)
	checkErrorOutput(t, strings.Join(args, " "), code, out, errOut, wants...)
	return errOut
}

func checkErrorOutput(t *testing.T, cmd string, code int, out, errOut string, wants ...string) {
	t.Helper()
	if code == 0 {
		t.Errorf("idp %s: exit 0, want non-zero\nstdout: %s\nstderr: %s", cmd, out, errOut)
	}
	if out != "" {
		t.Errorf("idp %s: stdout %q, want nothing", cmd, out)
	}
	if !strings.HasSuffix(errOut, "\n") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("idp %s: stderr is not exactly one line:\n%s", cmd, errOut)
	}
	if !strings.HasPrefix(errOut, "idp: ") {
		t.Errorf("idp %s: stderr %q does not start with \"idp: \"", cmd, errOut)
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(errOut, bad) {
			t.Errorf("idp %s: stderr looks like a stack trace (%q): %s", cmd, bad, errOut)
		}
	}
	for _, w := range wants {
		if !strings.Contains(errOut, w) {
			t.Errorf("idp %s: stderr %q does not contain %q", cmd, errOut, w)
		}
	}
}

// testDB is a fresh database for one test: a SQLite file in t.TempDir(), or
// a PostgreSQL schema when IDP_TEST_POSTGRES is set (which then needs a
// master key file).
type testDB struct {
	dsn     string
	keyFile string // empty: the default beside the SQLite file
}

func newTestDB(t *testing.T) testDB {
	t.Helper()
	d := testDB{dsn: dbtest.DSN(t)}
	if db.IsPostgres(d.dsn) {
		d.keyFile = writeKeyFile(t)
	}
	return d
}

// migratedDB is a fresh database already migrated and bootstrapped, so
// later commands have nothing to create or log.
func migratedDB(t *testing.T) testDB {
	t.Helper()
	d := newTestDB(t)
	mustRun(t, "", d.cmd("migrate")...)
	return d
}

// flags are the --database (and --master-key-file) flags selecting d.
func (d testDB) flags() []string {
	f := []string{"--database", d.dsn}
	if d.keyFile != "" {
		f = append(f, "--master-key-file", d.keyFile)
	}
	return f
}

// cmd returns args followed by d's flags.
func (d testDB) cmd(args ...string) []string {
	return append(append([]string{}, args...), d.flags()...)
}

// writeKeyFile writes a random 32-byte master key with mode 0600.
func writeKeyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master.key")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(p, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openTestEnv opens d the way the admin commands do, to check what they
// wrote through the domain services.
func openTestEnv(t *testing.T, d testDB) *env {
	t.Helper()
	fs := newSettingsFlagSet(stdio{out: io.Discard, err: io.Discard}, "test", "test", adminSettings()...)
	if err := parse(fs.FlagSet, d.flags()); err != nil {
		t.Fatal(err)
	}
	fs.s.resolve(fs.FlagSet, osGetenv)
	cfg, err := buildConfig(fs.s)
	if err != nil {
		t.Fatal(err)
	}
	e, err := openEnv(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

type userJSON struct {
	ID       string   `json:"id"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
	Created  string   `json:"created_at"`
}

type clientJSON struct {
	ID                     string   `json:"client_id"`
	Name                   string   `json:"name"`
	Public                 bool     `json:"public"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Scopes                 []string `json:"scopes"`
	SigningAlg             string   `json:"signing_alg"`
	Trusted                bool     `json:"trusted"`
	Created                string   `json:"created_at"`
}

type keyJSON struct {
	KID       string `json:"kid"`
	Alg       string `json:"alg"`
	State     string `json:"state"`
	Created   string `json:"created_at"`
	SignsFrom string `json:"signs_from"`
	Activated string `json:"activated_at"`
	Retired   string `json:"retired_at"`
	NotAfter  string `json:"not_after"`
}

// listJSON runs `idp GROUP list --json` on d and decodes the output.
func listJSON[T any](t *testing.T, d testDB, group string) []T {
	t.Helper()
	out := mustRun(t, "", d.cmd(group, "list", "--json")...)
	var v []T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("idp %s list --json: %v\n%s", group, err, out)
	}
	return v
}

func listUsers(t *testing.T, d testDB) []userJSON     { return listJSON[userJSON](t, d, "users") }
func listClients(t *testing.T, d testDB) []clientJSON { return listJSON[clientJSON](t, d, "clients") }
func listKeys(t *testing.T, d testDB) []keyJSON       { return listJSON[keyJSON](t, d, "keys") }

// keysBy returns the keys of alg in state.
func keysBy(list []keyJSON, alg, state string) []keyJSON {
	var out []keyJSON
	for _, k := range list {
		if k.Alg == alg && k.State == state {
			out = append(out, k)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
