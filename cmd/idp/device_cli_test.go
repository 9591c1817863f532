package main

import (
	"slices"
	"testing"
)

// TestClientsCreateDeviceGrant: the device grant (RFC 8628) is accepted
// for public and confidential clients, without a redirect URI.
func TestClientsCreateDeviceGrant(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	const device = "urn:ietf:params:oauth:grant-type:device_code"
	if out := mustRun(t, "", d.cmd("clients", "create", "--id", "tv", "--public", "--grant-type", device,
		"--grant-type", "refresh_token")...); out != "client_id: tv\n" {
		t.Fatalf("public device client: %q", out)
	}
	mustRun(t, "", d.cmd("clients", "create", "--id", "cli-tool", "--grant-type", device)...)
	if code, _, errOut := runCLI(t, "", d.cmd("clients", "create", "--id", "bad", "--grant-type", "device_code")...); code == 0 {
		t.Fatalf("a misspelt grant type was accepted: %s", errOut)
	}
	e := openTestEnv(t, d)
	for _, id := range []string{"tv", "cli-tool"} {
		c, err := e.Clients.Store().ByID(t.Context(), id)
		if err != nil || !slices.Contains(c.GrantTypes, device) {
			t.Fatalf("%s: %+v %v", id, c, err)
		}
	}
}
