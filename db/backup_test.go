package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"idp/db"
	"idp/db/dbtest"
)

// Backup copies a SQLite database into a new 0600 file that opens, refuses
// to overwrite anything, and says what to do on PostgreSQL.
func TestBackup(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	to := filepath.Join(t.TempDir(), "copy.db")
	err := d.Backup(ctx, to)
	if d.Dialect != "sqlite" {
		if !errors.Is(err, db.ErrBackupUnsupported) {
			t.Fatalf("Backup on %s: %v, want ErrBackupUnsupported", d.Dialect, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(to); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Fatalf("backup file: %v, %v", fi, err)
	}
	c, err := db.Open(ctx, to, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.Version(ctx)
	if want, _ := d.Version(ctx); err != nil || v != want {
		t.Fatalf("copy at migration version %d (%v), want %d", v, err, want)
	}
	// An existing file is never overwritten, and stays as it was.
	if err := os.WriteFile(to+".x", []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Backup(ctx, to+".x"); err == nil {
		t.Fatal("Backup overwrote an existing file")
	}
	if b, _ := os.ReadFile(to + ".x"); string(b) != "keep" {
		t.Fatalf("existing file changed to %q", b)
	}
	// A failed backup leaves nothing behind.
	bad := filepath.Join(t.TempDir(), "missing-dir", "copy.db")
	if err := d.Backup(ctx, bad); err == nil {
		t.Fatal("Backup into a missing folder succeeded")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("failed backup left %s: %v", bad, err)
	}
}
