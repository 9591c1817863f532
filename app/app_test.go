package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"idp/keys"
	"idp/server"
	"idp/users"
)

// testConfig is a serving configuration on a fresh SQLite file.
func testConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	return Config{
		Server: server.Config{
			Issuer: "http://localhost:8080", AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: 720 * time.Hour,
			RefreshReuseGrace: 10 * time.Second, JWKSMaxAge: 5 * time.Minute, KeyRotationInterval: 720 * time.Hour,
		},
		Database: filepath.Join(dir, "idp.db"), MasterKeyFile: filepath.Join(dir, "master.key"),
		Hashing: users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Serving: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Open, Start, Server, Purge and Close on a fresh database: what serve does.
func TestOpenStartServeClose(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	a, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureFirstUser(ctx); err != nil {
		t.Fatal(err)
	}
	if u, err := a.Users.Store().ByEmail(ctx, FirstUserEmail); err != nil || !u.HasRole("admin") {
		t.Fatalf("first user: %+v, %v", u, err)
	}
	srv, err := a.Server()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz %d: %s", rec.Code, rec.Body)
	}
	if n, err := a.Purge(ctx, 10); err != nil || n != 0 {
		t.Fatalf("Purge on a fresh database: %d, %v", n, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The policy is marked stopped; a second start changes nothing else.
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ps, err := b.Keys.Policies(ctx)
	if err != nil || len(ps) != 1 || ps[0].StoppedAt == nil {
		t.Fatalf("policies after Close: %+v, %v", ps, err)
	}
	before, _ := b.Keys.List(ctx)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureFirstUser(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := b.Keys.List(ctx)
	if n, _ := b.Users.Store().Count(ctx); len(after) != len(before) || n != 1 {
		t.Fatalf("second start: keys %d -> %d, users %d", len(before), len(after), n)
	}
}

// A wrong master key stops Start before it records anything.
func TestStartWithWrongMasterKeyWritesNothing(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	a, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	missing := cfg
	missing.MasterKeyFile = filepath.Join(t.TempDir(), "missing.key")
	if _, err := Open(ctx, missing); err == nil {
		t.Fatal("Open with a missing master key file beside sealed keys succeeded")
	}
	wrong := cfg
	wrong.MasterKeyFile = filepath.Join(t.TempDir(), "wrong.key")
	if err := os.WriteFile(wrong.MasterKeyFile, bytes.Repeat([]byte{9}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, wrong)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(ctx); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Fatalf("Start with the wrong master key: %v, want keys.ErrWrongMasterKey", err)
	}
	if ps, err := b.Keys.Policies(ctx); err != nil || len(ps) != 1 {
		t.Fatalf("a refused start recorded a policy: %+v, %v", ps, err)
	}
}

func TestTracingIsOffUnlessConfigured(t *testing.T) {
	before := otel.GetTracerProvider()
	cfg := testConfig(t)
	cfg.Serving = true
	a, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Fatal("Start installed a tracer provider without Tracing")
	}
	if _, span := otel.Tracer("x").Start(t.Context(), "y"); span.IsRecording() {
		t.Fatal("spans record without Tracing")
	}
}
