package clients

import (
	"bytes"
	"os"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

// testPepper is a fixed HMAC key; tests never depend on its value.
var testPepper = bytes.Repeat([]byte{0x42}, 32)

// testNow is the fixed clock of every test service.
var testNow = time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)

// newService opens a fresh migrated database and a Service over it.
func newService(t *testing.T) (*Service, *db.DB) {
	t.Helper()
	d := dbtest.Open(t)
	return NewService(NewStore(d.Gorm), testPepper, func() time.Time { return testNow }), d
}

// countClients counts rows in the clients table directly, bypassing Store.
func countClients(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var n int64
	if err := d.Gorm.Table("clients").Count(&n).Error; err != nil {
		t.Fatalf("count clients: %v", err)
	}
	return n
}

// rowBytes returns every column of client id's row, concatenated as raw
// bytes, so a test can look for a secret wherever it might have leaked.
func rowBytes(t *testing.T, d *db.DB, id string) []byte {
	t.Helper()
	rows, err := d.Gorm.Raw("SELECT * FROM clients WHERE id = ?", id).Rows()
	if err != nil {
		t.Fatalf("select row: %v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("columns: %v", err)
	}
	var out []byte
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				out = append(out, v...)
			case string:
				out = append(out, v...)
			}
			out = append(out, 0)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	if len(out) == 0 {
		t.Fatalf("no row for client %q", id)
	}
	return out
}

// sqliteFiles returns the bytes of the SQLite database file and its WAL,
// or nil on PostgreSQL.
func sqliteFiles(t *testing.T, d *db.DB) []byte {
	t.Helper()
	if d.Dialect != db.SQLite {
		return nil
	}
	var path string
	if err := d.Gorm.Raw("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path).Error; err != nil {
		t.Fatalf("database path: %v", err)
	}
	var out []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("read %s: %v", p, err)
		}
		out = append(out, b...)
	}
	if len(out) == 0 {
		t.Fatalf("SQLite files at %q are empty", path)
	}
	return out
}
