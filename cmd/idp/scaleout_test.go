package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"idp/db"
)

func TestScaleOutSettingsDefaults(t *testing.T) {
	c, err := parseServe()
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != (db.Options{}) || c.TrustedProxies != nil {
		t.Errorf("defaults: pool %+v, trusted proxies %v; want the driver defaults and none", c.DB, c.TrustedProxies)
	}
}

func TestScaleOutSettingsFromEnvAndFlags(t *testing.T) {
	setEnv(t, map[string]string{
		"IDP_DATABASE":             "postgres://u@db/idp",
		"IDP_MASTER_KEY_FILE":      "/run/secrets/mk",
		"IDP_DB_MAX_OPEN_CONNS":    "20",
		"IDP_DB_MAX_IDLE_CONNS":    "5",
		"IDP_DB_STATEMENT_TIMEOUT": "30s",
		"IDP_TRUSTED_PROXIES":      "10.0.0.0/8, 192.0.2.7 ,::1",
	})
	c, err := parseServe()
	if err != nil {
		t.Fatal(err)
	}
	want := db.Options{MaxOpenConns: 20, MaxIdleConns: 5, StatementTimeout: 30 * time.Second}
	if c.DB != want {
		t.Errorf("pool from env %+v, want %+v", c.DB, want)
	}
	var nets []string
	for _, n := range c.TrustedProxies {
		nets = append(nets, n.String())
	}
	if got := strings.Join(nets, " "); got != "10.0.0.0/8 192.0.2.7/32 ::1/128" {
		t.Errorf("trusted proxies %q", got)
	}
	c, err = parseServe("--db-max-open-conns", "4", "--db-max-idle-conns=0", "--db-statement-timeout", "0s", "--trusted-proxies", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (db.Options{MaxOpenConns: 4}); c.DB != want || len(c.TrustedProxies) != 0 {
		t.Errorf("flags over env: %+v %v", c.DB, c.TrustedProxies)
	}
}

func TestScaleOutSettingsValidation(t *testing.T) {
	parallel(t)
	_, err := parseServe("--database", "x.db", "--db-max-open-conns", "-1", "--db-max-idle-conns", "many",
		"--db-statement-timeout", "5s", "--trusted-proxies", "10.0.0.0/8,example.com")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--db-max-open-conns must be a whole number", "--db-max-idle-conns must be a whole number",
		"--db-statement-timeout applies to PostgreSQL only", `--trusted-proxies: "example.com" is not a CIDR`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from: %v", want, err)
		}
	}
	pg := []string{"--database", "postgres://u@db/idp", "--master-key-file", "/k"}
	if _, err := parseServe(append(pg, "--db-max-open-conns", "4", "--db-max-idle-conns", "8")...); err == nil ||
		!strings.Contains(err.Error(), "must not exceed --db-max-open-conns") {
		t.Errorf("idle above open: %v", err)
	}
	if _, err := parseServe(append(pg, "--db-statement-timeout", "1ms")...); err == nil ||
		!strings.Contains(err.Error(), "0s or at least 100ms") {
		t.Errorf("1ms statement timeout: %v", err)
	}
	if _, err := parseServe(append(pg, "--db-max-idle-conns", "8", "--db-statement-timeout", "250ms")...); err != nil {
		t.Errorf("idle conns with the default open limit, and a PostgreSQL timeout: %v", err)
	}
}

// The pool settings reach the database of serve and of the admin commands.
func TestScaleOutPoolSettingsApply(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "", d.cmd("users", "list", "--db-max-open-conns", "2", "--db-max-idle-conns", "1")...)
	args := append(d.flags(), "--db-max-open-conns", "3")
	if db.IsPostgres(d.dsn) {
		args = append(args, "--db-statement-timeout", "1500ms")
	}
	cfg, err := parseServe(args...)
	if err != nil {
		t.Fatal(err)
	}
	e, err := openEnv(context.Background(), cfg, newLogger(io.Discard, "text"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	sqlDB, err := e.DB.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if n := sqlDB.Stats().MaxOpenConnections; n != 3 {
		t.Errorf("max open connections %d, want 3", n)
	}
	if db.IsPostgres(d.dsn) {
		var timeout string
		if err := e.DB.Gorm.Raw("SHOW statement_timeout").Scan(&timeout).Error; err != nil || timeout != "1500ms" {
			t.Errorf("statement_timeout %q, %v; want 1500ms", timeout, err)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	parallel(t)
	srv := startServe(t, newTestDB(t))
	if out := mustRun(t, "", "healthcheck", "--url", srv.url+"/readyz"); out != "ok\n" {
		t.Errorf("healthcheck stdout %q", out)
	}
	// Without --url it asks the loopback address of --addr.
	mustRun(t, "", "healthcheck", "--addr", strings.TrimPrefix(srv.url, "http://"))

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	wantError(t, "", []string{"answered 503"}, "healthcheck", "--url", down.URL+"/readyz")
	down.Close()
	wantError(t, "", []string{"healthcheck:"}, "healthcheck", "--url", down.URL+"/readyz", "--timeout", "2s")
	wantError(t, "", []string{"not host:port"}, "healthcheck", "--addr", "8080")
}

func TestReadyzURL(t *testing.T) {
	parallel(t)
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/readyz",
		"[::]:8080":      "http://[::1]:8080/readyz",
		"10.1.2.3:8080":  "http://10.1.2.3:8080/readyz",
		"localhost:8081": "http://localhost:8081/readyz",
	} {
		if got, err := readyzURL(addr); err != nil || got != want {
			t.Errorf("readyzURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}
