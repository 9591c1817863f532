package db

import (
	"context"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"idp/migrations"
)

// Migrate applies every pending migration. On PostgreSQL a session advisory
// lock serialises replicas that start together; a second run is a no-op.
func (d *DB) Migrate(ctx context.Context) error {
	fsys, err := migrations.FS(d.Dialect)
	if err != nil {
		return err
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Retry the advisory lock every second (goose's default is 5 s) for
		// up to five minutes: a replica waiting for another's migration
		// starts as soon as it is done.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	} else {
		// goose has no SQLite locker; a file lock beside the database does
		// the same job for processes sharing one file.
		opts = append(opts, goose.WithSessionLocker(fileLocker{path: d.path + ".migrate-lock"}))
	}
	p, err := goose.NewProvider(dialect, d.sql, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// The pending check takes no lock, so the common case — nothing to do —
	// never waits behind another process holding the migration lock.
	if pending, err := p.HasPending(ctx); err == nil && !pending {
		return nil
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Version reports the newest applied migration version.
func (d *DB) Version(ctx context.Context) (int64, error) {
	fsys, err := migrations.FS(d.Dialect)
	if err != nil {
		return 0, err
	}
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, d.sql, fsys)
	if err != nil {
		return 0, fmt.Errorf("migration version: %w", err)
	}
	return p.GetDBVersion(ctx)
}
