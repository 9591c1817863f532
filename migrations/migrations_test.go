package migrations

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// versions lists the goose version prefixes of one dialect's files.
func versions(t *testing.T, dialect string) []string {
	t.Helper()
	fsys, err := FS(dialect)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		v, _, ok := strings.Cut(n, "_")
		if !ok {
			t.Fatalf("%s/%s: want NNNNN_name.sql", dialect, n)
		}
		out = append(out, v)
	}
	return out
}

func TestDialectsHaveTheSameVersions(t *testing.T) {
	sqlite, pg := versions(t, "sqlite"), versions(t, "postgres")
	if len(sqlite) == 0 {
		t.Fatal("no migrations embedded")
	}
	if !slices.Equal(sqlite, pg) {
		t.Fatalf("sqlite versions %v != postgres versions %v", sqlite, pg)
	}
}

func TestEveryFileHasUpAndDown(t *testing.T) {
	for _, d := range Dialects {
		fsys, _ := FS(d)
		names, _ := fs.Glob(fsys, "*.sql")
		for _, n := range names {
			b, err := fs.ReadFile(fsys, n)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if !strings.Contains(s, "-- +goose Up") || !strings.Contains(s, "-- +goose Down") {
				t.Errorf("%s/%s lacks a goose Up or Down section", d, n)
			}
		}
	}
}

func TestUnknownDialect(t *testing.T) {
	if _, err := FS("mysql"); err == nil {
		t.Fatal("FS(mysql) succeeded")
	}
}
