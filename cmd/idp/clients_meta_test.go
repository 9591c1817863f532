package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// clientView is the part of `clients list --json` these tests read.
type clientView struct {
	ID         string   `json:"client_id"`
	Name       string   `json:"name"`
	Logo       string   `json:"logo_uri"`
	Policy     string   `json:"policy_uri"`
	TOS        string   `json:"tos_uri"`
	Home       string   `json:"client_uri"`
	Contacts   []string `json:"contacts"`
	AppType    string   `json:"application_type"`
	AuthMethod string   `json:"token_endpoint_auth_method"`
	MaxAge     int      `json:"default_max_age"`
	AuthTime   bool     `json:"require_auth_time"`
	Trusted    bool     `json:"trusted"`
	Redirects  []string `json:"redirect_uris"`
	Verified   bool     `json:"require_verified_email"`
}

func clientNamed(t *testing.T, d testDB, id string) clientView {
	t.Helper()
	for _, c := range listJSON[clientView](t, d, "clients") {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no client %s", id)
	return clientView{}
}

// TestClientsMetadataAndUpdate: create takes the RFC 7591 metadata flags;
// update changes only what it is given, refuses what create would, and
// --new-secret prints a new secret once.
func TestClientsMetadataAndUpdate(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	out := mustRun(t, "", d.cmd("clients", "create", "--id", "notes", "--name", "Acme Notes",
		"--redirect-uri", "https://notes.example/cb", "--logo-uri", "https://cdn.example/notes.png",
		"--policy-uri", "https://notes.example/privacy", "--tos-uri", "https://notes.example/terms",
		"--client-uri", "https://notes.example/", "--contact", "ops@notes.example", "--contact", "dev@notes.example",
		"--token-endpoint-auth-method", "client_secret_post", "--default-max-age", "12h", "--require-auth-time")...)
	if !strings.Contains(out, "client_secret: ") {
		t.Fatalf("create: %s", out)
	}
	c := clientNamed(t, d, "notes")
	if c.Logo != "https://cdn.example/notes.png" || c.Policy != "https://notes.example/privacy" || c.TOS == "" || c.Home == "" ||
		len(c.Contacts) != 2 || c.AppType != "web" || c.AuthMethod != "client_secret_post" || c.MaxAge != 43200 || !c.AuthTime {
		t.Fatalf("created %+v", c)
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "notes", "--name", "Notes", "--contact", "", "--trusted", "--require-verified-email")...)
	c = clientNamed(t, d, "notes")
	if c.Name != "Notes" || len(c.Contacts) != 0 || !c.Trusted || !c.Verified || c.Logo != "https://cdn.example/notes.png" || c.MaxAge != 43200 {
		t.Fatalf("updated %+v", c)
	}
	wantError(t, "", []string{"logo URI", "https"}, d.cmd("clients", "update", "--id", "notes", "--logo-uri", "http://cdn.example/x.png")...)
	wantError(t, "", []string{"private-use"}, d.cmd("clients", "update", "--id", "notes", "--redirect-uri", "com.example.app:/cb")...)
	wantError(t, "", []string{"whole number of seconds"}, d.cmd("clients", "update", "--id", "notes", "--default-max-age", "1500ms")...)
	wantError(t, "", []string{"not found"}, d.cmd("clients", "update", "--id", "ghost", "--name", "x")...)
	wantError(t, "", []string{"at least one thing to change"}, d.cmd("clients", "update", "--id", "notes")...)
	if after := clientNamed(t, d, "notes"); after.Logo != c.Logo || len(after.Redirects) != 1 {
		t.Fatalf("a refused update changed the client: %+v", after)
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "notes", "--application-type", "native", "--redirect-uri", "com.example.app:/cb")...)
	if c := clientNamed(t, d, "notes"); c.AppType != "native" || c.Redirects[0] != "com.example.app:/cb" {
		t.Fatalf("native: %+v", c)
	}
	out = mustRun(t, "", d.cmd("clients", "update", "--id", "notes", "--new-secret")...)
	if !strings.Contains(out, "client_secret: ") {
		t.Fatalf("--new-secret: %s", out)
	}
	mustRun(t, "", d.cmd("clients", "create", "--id", "spa", "--public", "--redirect-uri", "http://127.0.0.1/cb")...)
	wantError(t, "", []string{"public client has no secret"}, d.cmd("clients", "update", "--id", "spa", "--new-secret")...)
}

// TestRegistrationTokenCommand: the token goes to stdout alone (for a
// script to capture), its bounds are checked, and a registration spends it.
func TestRegistrationTokenCommand(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	code, out, errOut := runCLI(t, "", d.cmd("clients", "registration-token", "create", "--ttl", "2h", "--uses", "3")...)
	token := strings.TrimSpace(out)
	if code != 0 || len(token) != 43 || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "for 3 client(s)") {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	wantError(t, "", []string{"uses must be 1 to"}, d.cmd("clients", "registration-token", "create", "--uses", "0")...)
	wantError(t, "", []string{"lifetime"}, d.cmd("clients", "registration-token", "create", "--ttl", "0s")...)
	e := openTestEnv(t, d)
	ctx := t.Context()
	if err := e.Clients.SpendRegistrationToken(ctx, token); err != nil {
		t.Fatalf("the printed token does not work: %v", err)
	}
	if err := e.Clients.SpendRegistrationToken(ctx, token+"x"); err == nil {
		t.Fatal("a wrong token was accepted")
	}
	evs, err := e.Audit.List(ctx, time.Time{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, ev := range evs {
		if ev.Action == "registration_token.created" {
			created++
		}
		if strings.Contains(ev.Detail, token) {
			t.Fatalf("the token is in the audit log: %+v", ev)
		}
	}
	if created != 1 {
		t.Fatalf("%d registration_token.created events, want 1", created)
	}
}

func TestConfigRegistration(t *testing.T) {
	cfg, err := parseServe()
	if err != nil || cfg.Registration != "token" || cfg.RegistrationIdleTTL != 720*time.Hour {
		t.Fatalf("defaults: %q %s %v", cfg.Registration, cfg.RegistrationIdleTTL, err)
	}
	setEnv(t, map[string]string{"IDP_REGISTRATION": "open", "IDP_REGISTRATION_IDLE_TTL": "48h"})
	if cfg, err := parseServe(); err != nil || cfg.Registration != "open" || cfg.RegistrationIdleTTL != 48*time.Hour {
		t.Fatalf("from the environment: %q %s %v", cfg.Registration, cfg.RegistrationIdleTTL, err)
	}
	setEnv(t, nil)
	if _, err := parseServe("--registration", "anyone"); err == nil || !strings.Contains(err.Error(), "token, open or closed") {
		t.Errorf("a bad mode: %v", err)
	}
	if _, err := parseServe("--registration-idle-ttl", "5m"); err == nil || !strings.Contains(err.Error(), "at least 1h") {
		t.Errorf("a short idle ttl: %v", err)
	}
}

func TestConfigSignup(t *testing.T) {
	cfg, err := parseServe()
	if err != nil || cfg.Signup != "closed" || len(cfg.SignupDomains) != 0 {
		t.Fatalf("default: %q %v %v", cfg.Signup, cfg.SignupDomains, err)
	}
	mailOn := []string{"--smtp-url", "log:", "--mail-from", "idp <idp@example.com>"}
	cfg, err = parseServe(append(mailOn, "--signup", "open", "--signup-domains", " Example.com, corp.example.org ,")...)
	if err != nil || cfg.Signup != "open" || len(cfg.SignupDomains) != 2 || cfg.SignupDomains[0] != "example.com" {
		t.Fatalf("open with domains: %q %v %v", cfg.Signup, cfg.SignupDomains, err)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--signup", "open"}, "needs --smtp-url"},
		{[]string{"--signup", "everyone"}, "open, invite-only or closed"},
		{append(mailOn, "--signup", "open", "--signup-domains", "@example.com"), "not a domain"},
		{[]string{"--signup-domains", "example.com"}, "needs --signup open"},
	} {
		if _, err := parseServe(tc.args...); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.says)
		}
	}
	setEnv(t, map[string]string{"IDP_SIGNUP": "invite-only"})
	if cfg, err := parseServe(); err != nil || cfg.Signup != "invite-only" {
		t.Errorf("from the environment: %q %v", cfg.Signup, err)
	}
}

// TestClientsPrivateKeyJWT: a client registered with its public keys from
// a file prints no secret; its keys can move to a URL; a private key or a
// broken file is refused.
func TestClientsPrivateKeyJWT(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}}})
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
	pubFile, privFile := filepath.Join(dir, "pub.json"), filepath.Join(dir, "priv.json")
	_ = os.WriteFile(pubFile, pub, 0o600)
	_ = os.WriteFile(privFile, priv, 0o600)
	out := mustRun(t, "", d.cmd("clients", "create", "--id", "svc", "--grant-type", "client_credentials", "--scope", "api",
		"--token-endpoint-auth-method", "private_key_jwt", "--jwks-file", pubFile)...)
	if strings.Contains(out, "client_secret") {
		t.Fatalf("a private_key_jwt client printed a secret: %s", out)
	}
	wantError(t, "", []string{"not a valid public key"}, d.cmd("clients", "create", "--id", "svc2", "--grant-type", "client_credentials",
		"--token-endpoint-auth-method", "private_key_jwt", "--jwks-file", privFile)...)
	wantError(t, "", []string{"--jwks-file"}, d.cmd("clients", "update", "--id", "svc", "--jwks-file", filepath.Join(dir, "missing.json"))...)
	wantError(t, "", []string{"not both"}, d.cmd("clients", "update", "--id", "svc", "--jwks-uri", "https://keys.example/jwks")...)
	mustRun(t, "", d.cmd("clients", "update", "--id", "svc", "--jwks-file", "", "--jwks-uri", "https://keys.example/jwks")...)
	wantError(t, "", []string{"authenticates with its keys"}, d.cmd("clients", "update", "--id", "svc", "--new-secret")...)
}
