package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"idp/db"
	"idp/server/servertest"
)

// backupApp is the relying party of the backup test: a trusted
// confidential client with offline access.
type backupApp struct {
	conf *oauth2.Config
	url  string
}

func newBackupApp(t *testing.T, d testDB, url string) *backupApp {
	t.Helper()
	out := mustRun(t, "", d.cmd("clients", "create", "--id", "notes", "--trusted", "--redirect-uri", "https://notes.example/cb")...)
	secret := ""
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "client_secret: "); ok {
			secret = v
		}
	}
	return &backupApp{url: url, conf: &oauth2.Config{ClientID: "notes", ClientSecret: secret,
		RedirectURL: "https://notes.example/cb", Scopes: []string{"openid", "email", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: url + "/authorize", TokenURL: url + "/token", AuthStyle: oauth2.AuthStyleInHeader}}}
}

// signIn runs a code flow for email through the real pages and returns
// the tokens.
func (a *backupApp) signIn(t *testing.T, email, password string) *oauth2.Token {
	t.Helper()
	env := &servertest.Env{URL: a.url}
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), a.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), email, password)
	tok, err := a.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange for %s: %v", email, err)
	}
	return tok
}

// refresh redeems a refresh token once.
func (a *backupApp) refresh(token string) (*oauth2.Token, error) {
	return a.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: token, Expiry: time.Unix(1, 0)}).Token()
}

// A backup taken while the provider signs people in, refreshes tokens and
// rotates keys restores into a working provider: every user signs in,
// the client authenticates, every refresh token valid when the backup was
// taken refreshes once, and every access token still unexpired verifies
// against the restored JWKS. Restoring without the right master key stops
// serve with a clear message and leaves the copy untouched.
func TestBackupUnderLoadRestores(t *testing.T) {
	d := newTestDB(t)
	if db.IsPostgres(d.dsn) {
		t.Skip("PostgreSQL is backed up with pg_dump (README); idp backup is for SQLite")
	}
	srv := startServe(t, d)
	app := newBackupApp(t, d, srv.url)
	users := []string{"ada@example.com", "grace@example.com", "edsger@example.com"}
	const password = "correct horse battery staple"
	for _, u := range users {
		mustRun(t, password, d.cmd("users", "create", "--email", u, "--password-stdin")...)
	}
	// Parked grants: issued before the backup, untouched until after it.
	parked := map[string]*oauth2.Token{}
	for _, u := range users {
		parked[u] = app.signIn(t, u, password)
	}

	// The load: chains of refreshes, rotations through the CLI, and
	// sign-ins on this goroutine, all while the backup is taken.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var refreshes, rotations atomic.Int64
	for i := range 4 {
		tok := app.signIn(t, users[i%len(users)], password)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				next, err := app.refresh(tok.RefreshToken)
				if err != nil {
					t.Errorf("refresh under load: %v", err)
					return
				}
				tok = next
				refreshes.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if code, _, errOut := runCLI(t, "", d.cmd("keys", "rotate", "--force")...); code != 0 {
				t.Errorf("rotation under load: %s", errOut)
				return
			}
			rotations.Add(1)
		}
	}()
	for _, u := range users {
		app.signIn(t, u, password)
	}
	backup := filepath.Join(t.TempDir(), "idp-backup.db")
	out := mustRun(t, "", d.cmd("backup", "--to", backup)...)
	for _, u := range users {
		app.signIn(t, u, password)
	}
	stop()
	wg.Wait()
	if !strings.Contains(out, "to "+backup) || refreshes.Load() == 0 || rotations.Load() == 0 {
		t.Fatalf("backup said %q after %d refreshes and %d rotations", out, refreshes.Load(), rotations.Load())
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}

	// Restore into a fresh folder with the master key.
	restored := testDB{dsn: filepath.Join(t.TempDir(), "idp.db")}
	copyFile(t, backup, restored.dsn)
	restored.keyFile = filepath.Join(filepath.Dir(restored.dsn), "master.key")
	copyFile(t, defaultMasterKeyFile(d.dsn), restored.keyFile)

	// The wrong master key first: refused, the copy untouched.
	wrong := restored
	wrong.keyFile = writeKeyFile(t)
	before := fileSum(t, restored.dsn)
	code, _, errOut := runCLI(t, "", append([]string{"serve", "--addr", "127.0.0.1:0"}, wrong.flags()...)...)
	if code == 0 || !strings.Contains(errOut, "master key") {
		t.Fatalf("serve with the wrong master key: exit %d, %s", code, errOut)
	}
	if fileSum(t, restored.dsn) != before {
		t.Fatal("a refused start changed the restored database")
	}

	again := startServe(t, restored)
	app.url, app.conf.Endpoint.AuthURL, app.conf.Endpoint.TokenURL = again.url, again.url+"/authorize", again.url+"/token"
	for _, u := range users {
		app.signIn(t, u, password) // also authenticates the client at the token endpoint
	}
	set := fetchKeySet(t, again.url)
	for u, tok := range parked {
		if time.Until(tok.Expiry) > 0 {
			if err := verifyWith(set, tok.AccessToken); err != nil {
				t.Errorf("%s's unexpired access token does not verify against the restored JWKS: %v", u, err)
			}
		}
		if _, err := app.refresh(tok.RefreshToken); err != nil {
			t.Errorf("%s's refresh token from before the backup: %v", u, err)
		}
	}
	t.Logf("backed up during %d refreshes and %d forced rotations", refreshes.Load(), rotations.Load())
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// fetchKeySet returns the JWKS a relying service would fetch from base.
func fetchKeySet(t *testing.T, base string) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, base+"/.well-known/jwks.json", &set)
	return set
}
