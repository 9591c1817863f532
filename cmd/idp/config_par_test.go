package main

import (
	"strings"
	"testing"
)

// TestConfigRequirePAR: --require-par is off by default, a switch on the
// command line (alone or =BOOL), and IDP_REQUIRE_PAR in the environment,
// which the flag beats.
func TestConfigRequirePAR(t *testing.T) {
	setEnv(t, nil)
	if cfg, err := parseServe(); err != nil || cfg.RequirePAR {
		t.Fatalf("default: %v %v", cfg.RequirePAR, err)
	}
	if cfg, err := parseServe("--require-par"); err != nil || !cfg.RequirePAR {
		t.Fatalf("--require-par: %v %v", cfg.RequirePAR, err)
	}
	if cfg, err := parseServe("--require-par", "--addr", ":9000"); err != nil || !cfg.RequirePAR || cfg.Addr != ":9000" {
		t.Fatalf("--require-par before another flag: %v %q %v", cfg.RequirePAR, cfg.Addr, err)
	}
	setEnv(t, map[string]string{"IDP_REQUIRE_PAR": "true"})
	if cfg, err := parseServe(); err != nil || !cfg.RequirePAR {
		t.Fatalf("IDP_REQUIRE_PAR=true: %v %v", cfg.RequirePAR, err)
	}
	if cfg, err := parseServe("--require-par=false"); err != nil || cfg.RequirePAR {
		t.Fatalf("--require-par=false over the environment: %v %v", cfg.RequirePAR, err)
	}
	setEnv(t, map[string]string{"IDP_REQUIRE_PAR": "sometimes"})
	if _, err := parseServe(); err == nil || !strings.Contains(err.Error(), "--require-par must be true or false") {
		t.Fatalf("a bad value: %v", err)
	}
	if app := (Config{RequirePAR: true}).app(nil); !app.Server.RequirePAR {
		t.Fatal("RequirePAR does not reach the server's configuration")
	}
}
