package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"gorm.io/driver/sqlite"
)

// ErrBackupUnsupported is returned by Backup on PostgreSQL, whose backups
// are pg_dump's (the README's production guide has the procedure).
var ErrBackupUnsupported = errors.New("idp backup copies SQLite databases; back up PostgreSQL with pg_dump (see the README)")

// Backup writes a consistent copy of a SQLite database to path while it is
// in use: VACUUM INTO reads one snapshot in a read transaction, so writers
// on other connections (and other processes, in WAL mode) carry on, and the
// copy holds every transaction committed before it began and none after.
// path must not exist; it is created with mode 0600, since it holds
// password hashes and sealed keys, and synced to disk before Backup
// returns. A failed backup leaves no file behind.
func (d *DB) Backup(ctx context.Context, path string) (err error) {
	if d.Dialect != "sqlite" {
		return ErrBackupUnsupported
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	// The raw pool, not the write gate: the source is only read.
	if _, err := d.sql.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The copy comes out in rollback-journal mode; switch it to WAL, as
	// Open would, so that restoring it is copying a file that the first
	// start does not rewrite.
	c, err := sql.Open(sqlite.DriverName, "file:"+path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = c.ExecContext(ctx, "PRAGMA journal_mode=WAL")
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: WAL mode: %w", err)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", path, err)
	}
	return nil
}
