package main

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestConfigMFARequiredRoles(t *testing.T) {
	cfg, err := parseServe("--mfa-required-roles", " admin, ops:oncall ,")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.MFARequiredRoles, []string{"admin", "ops:oncall"}) {
		t.Errorf("roles %q", cfg.MFARequiredRoles)
	}
	setEnv(t, map[string]string{"IDP_MFA_REQUIRED_ROLES": "staff"})
	if cfg, err := parseServe(); err != nil || !slices.Equal(cfg.MFARequiredRoles, []string{"staff"}) {
		t.Errorf("from the environment: %q %v", cfg.MFARequiredRoles, err)
	}
	setEnv(t, nil)
	if cfg, err := parseServe(); err != nil || len(cfg.MFARequiredRoles) != 0 {
		t.Errorf("default: %q %v, want none", cfg.MFARequiredRoles, err)
	}
	if _, err := parseServe("--mfa-required-roles", "admin,two words"); err == nil || !strings.Contains(err.Error(), `"two words" is not a role name`) {
		t.Errorf("a bad role name: %v", err)
	}
}

func TestUsersResetMFAAndFactors(t *testing.T) {
	d := migratedDB(t)
	mustRun(t, "Correct-Horse-9", d.cmd("users", "create", "--email", "ada@example.com", "--password-stdin")...)
	e := openTestEnv(t, d)
	ctx := context.Background()
	u, err := e.Users.Store().ByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.MFA.NewRecoveryCodes(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.MFA.BeginTOTP(ctx, u.ID, u.Email); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Sessions.Start(ctx, u.ID, []string{"pwd"}, "192.0.2.1", "test"); err != nil {
		t.Fatal(err)
	}
	list := listJSON[struct {
		Email   string   `json:"email"`
		Factors []string `json:"factors"`
	}](t, d, "users")
	if len(list) != 1 || !slices.Equal(list[0].Factors, []string{"recovery"}) {
		t.Fatalf("users list --json: %+v (an unconfirmed app is not a factor)", list)
	}
	if out := mustRun(t, "", d.cmd("users", "list")...); !strings.Contains(out, "FACTORS") || !strings.Contains(out, "recovery") {
		t.Errorf("users list table: %s", out)
	}

	out := mustRun(t, "", d.cmd("users", "reset-mfa", "--email", "ada@example.com")...)
	if !strings.Contains(out, "removed every second factor of ada@example.com") {
		t.Errorf("reset-mfa said %q", out)
	}
	f, err := e.MFA.Of(ctx, u.ID)
	if err != nil || f.Any() || f.RecoveryTotal != 0 {
		t.Errorf("factors after reset: %+v %v", f, err)
	}
	if s, _ := e.Sessions.List(ctx, u.ID); len(s) != 0 {
		t.Errorf("%d sessions outlived the reset", len(s))
	}
	evs, err := e.Audit.About(ctx, u.ID, "mfa.reset", 5)
	if err != nil || len(evs) != 1 || evs[0].Via != "cli" {
		t.Errorf("audit: %+v %v", evs, err)
	}
	if out := mustRun(t, "", d.cmd("users", "reset-mfa", "--email", "ada@example.com")...); !strings.Contains(out, "nothing changed") {
		t.Errorf("second reset said %q", out)
	}
	wantError(t, "", []string{"reset second factors of nobody@example.com", "not found"},
		d.cmd("users", "reset-mfa", "--email", "nobody@example.com")...)
	wantError(t, "", []string{"needs --email"}, d.cmd("users", "reset-mfa")...)

}

func TestClientsCreateRequireMFA(t *testing.T) {
	d := migratedDB(t)
	mustRun(t, "", d.cmd("clients", "create", "--id", "payroll", "--require-mfa", "--redirect-uri", "https://payroll.example.com/cb")...)
	list := listJSON[struct {
		ID         string `json:"client_id"`
		RequireMFA bool   `json:"require_mfa"`
	}](t, d, "clients")
	if len(list) != 1 || !list[0].RequireMFA {
		t.Fatalf("clients list --json: %+v", list)
	}
}

func TestConfigOTLPEndpoint(t *testing.T) {
	setEnv(t, nil)
	if cfg, err := parseServe(); err != nil || cfg.OTLPEndpoint != "" || cfg.tracing() != nil {
		t.Errorf("default: %q %v, want tracing off", cfg.OTLPEndpoint, err)
	}
	cfg, err := parseServe("--otlp-endpoint", "http://otel-collector:4318")
	if err != nil || cfg.tracing() == nil || cfg.tracing().Endpoint != "http://otel-collector:4318" {
		t.Errorf("flag: %+v %v", cfg.tracing(), err)
	}
	if _, err := parseServe("--otlp-endpoint", "otel-collector:4318"); err == nil || !strings.Contains(err.Error(), "--otlp-endpoint must be an http or https URL") {
		t.Errorf("a URL without scheme: %v", err)
	}
	setEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
	if cfg, err := parseServe(); err != nil || cfg.OTLPEndpoint != "env" {
		t.Errorf("the standard variable: %q %v, want the exporter to read it", cfg.OTLPEndpoint, err)
	}
}
