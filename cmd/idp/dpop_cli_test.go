package main

import (
	"strings"
	"testing"
	"time"
)

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

// TestDPoPServeSettings: --dpop-nonce and --dpop-proof-window resolve
// flag > environment > default and refuse nonsense.
func TestDPoPServeSettings(t *testing.T) {
	c, err := parseServe()
	if err != nil || c.DPoPNonce || c.DPoPWindow != time.Minute {
		t.Fatalf("defaults: nonce %v window %s, %v", c.DPoPNonce, c.DPoPWindow, err)
	}
	setEnv(t, map[string]string{"IDP_DPOP_NONCE": "true", "IDP_DPOP_PROOF_WINDOW": "30s"})
	if c, err = parseServe(); err != nil || !c.DPoPNonce || c.DPoPWindow != 30*time.Second {
		t.Fatalf("env: nonce %v window %s, %v", c.DPoPNonce, c.DPoPWindow, err)
	}
	if c, err = parseServe("--dpop-nonce=false", "--dpop-proof-window=2m"); err != nil || c.DPoPNonce || c.DPoPWindow != 2*time.Minute {
		t.Fatalf("flags: nonce %v window %s, %v", c.DPoPNonce, c.DPoPWindow, err)
	}
	setEnv(t, map[string]string{})
	if c, err = parseServe("--dpop-nonce"); err != nil || !c.DPoPNonce {
		t.Fatalf("--dpop-nonce alone: %v, %v", c.DPoPNonce, err)
	}
	if _, err = parseServe("--dpop-nonce=maybe", "--dpop-proof-window=1h"); err == nil ||
		!strings.Contains(err.Error(), "--dpop-nonce") || !strings.Contains(err.Error(), "--dpop-proof-window") {
		t.Fatalf("bad values: %v", err)
	}
}
