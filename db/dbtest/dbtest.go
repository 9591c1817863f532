// Package dbtest opens a migrated, throwaway database for a test: a SQLite
// file in t.TempDir() by default, or a fresh PostgreSQL schema when
// IDP_TEST_POSTGRES holds a postgres:// URL. Every store test goes through
// Open, so the same tests are the conformance suite on both dialects.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"idp/db"
)

// EnvPostgres names the environment variable that selects PostgreSQL.
const EnvPostgres = "IDP_TEST_POSTGRES"

// DSN returns a fresh database location for t, without opening it: a SQLite
// path in t.TempDir(), or a postgres:// URL whose search_path is a new schema
// dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		return filepath.Join(t.TempDir(), "idp.db")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := db.Open(context.Background(), base, db.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatalf("dbtest: %s is set but PostgreSQL is unreachable: %v", EnvPostgres, err)
	}
	if err := admin.Gorm.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("dbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.Gorm.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated database for t, closed when the test ends. On
// PostgreSQL it is a schema of this process's pool when one is free
// (pool.go): migrating a fresh schema costs about half a second, and the
// server tests open hundreds.
func Open(t testing.TB) *db.DB {
	t.Helper()
	if base := os.Getenv(EnvPostgres); base != "" {
		if d := pool.take(t, base); d != nil {
			return d
		}
	}
	d, err := db.Open(context.Background(), DSN(t), db.Options{})
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	return d
}

// RequirePostgres skips t unless IDP_TEST_POSTGRES is set, saying how to run it.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		t.Skip("PostgreSQL run skipped: set IDP_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable (.ci/run does)")
	}
	return u
}
