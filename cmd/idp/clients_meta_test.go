package main

import (
	"strings"
	"testing"
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
	mustRun(t, "", d.cmd("clients", "update", "--id", "notes", "--name", "Notes", "--contact", "", "--trusted")...)
	c = clientNamed(t, d, "notes")
	if c.Name != "Notes" || len(c.Contacts) != 0 || !c.Trusted || c.Logo != "https://cdn.example/notes.png" || c.MaxAge != 43200 {
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
