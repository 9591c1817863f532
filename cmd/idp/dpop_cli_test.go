package main

import "testing"

// TestDPoPRequireFlag: clients create --require-dpop records
// dpop_bound_access_tokens, and clients update --require-dpop=false clears
// it (RFC 9449 §5.2).
func TestDPoPRequireFlag(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "", d.cmd("clients", "create", "--id", "bound", "--public", "--redirect-uri", "http://127.0.0.1/cb", "--require-dpop")...)
	type view struct {
		ID   string `json:"client_id"`
		DPoP bool   `json:"dpop_bound_access_tokens"`
	}
	get := func() bool {
		for _, c := range listJSON[view](t, d, "clients") {
			if c.ID == "bound" {
				return c.DPoP
			}
		}
		t.Fatal("no client bound")
		return false
	}
	if !get() {
		t.Fatal("create --require-dpop did not stick")
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "bound", "--require-dpop=false")...)
	if get() {
		t.Fatal("update --require-dpop=false did not clear it")
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "bound", "--require-dpop")...)
	if !get() {
		t.Fatal("update --require-dpop did not set it")
	}
}
