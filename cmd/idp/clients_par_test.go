package main

import (
	"strings"
	"testing"
)

// TestClientsRequirePAR: clients create --require-par and clients update
// --require-par[=false] set and clear require_pushed_authorization_requests
// (RFC 9126 §6), which clients list --json shows; help describes the flag.
func TestClientsRequirePAR(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	type view struct {
		ID  string `json:"client_id"`
		PAR bool   `json:"require_pushed_authorization_requests"`
	}
	par := func(id string) bool {
		t.Helper()
		for _, c := range listJSON[view](t, d, "clients") {
			if c.ID == id {
				return c.PAR
			}
		}
		t.Fatalf("no client %s", id)
		return false
	}
	mustRun(t, "", d.cmd("clients", "create", "--id", "pushy", "--redirect-uri", "https://pushy.example/cb", "--require-par")...)
	mustRun(t, "", d.cmd("clients", "create", "--id", "plain", "--redirect-uri", "https://plain.example/cb")...)
	if !par("pushy") || par("plain") {
		t.Fatalf("after create: pushy %v, plain %v", par("pushy"), par("plain"))
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "pushy", "--require-par=false")...)
	mustRun(t, "", d.cmd("clients", "update", "--id", "plain", "--require-par")...)
	if par("pushy") || !par("plain") {
		t.Fatalf("after update: pushy %v, plain %v", par("pushy"), par("plain"))
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "plain", "--name", "Plain")...)
	if !par("plain") {
		t.Fatal("an update without --require-par cleared it")
	}
	for _, args := range [][]string{{"clients", "create"}, {"clients", "update"}} {
		if help := helpText(t, args...); !strings.Contains(help, "-require-par") {
			t.Errorf("idp %v --help does not describe --require-par", args)
		}
	}
	if help := helpText(t, "serve"); !strings.Contains(help, "-require-par") || !strings.Contains(help, "IDP_REQUIRE_PAR") {
		t.Error("idp serve --help does not describe --require-par and IDP_REQUIRE_PAR")
	}
}
