package main

import (
	"context"
	"errors"
	"fmt"
)

// runBackup is `idp backup --to FILE`: a consistent copy of a SQLite
// database, taken while serve runs (PostgreSQL: pg_dump, see the README).
func runBackup(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "backup", "backup --to FILE", adminSettings()...)
	to := fs.String("to", "", "file to write the copy to; it must not exist (required)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("backup needs --to FILE")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	b, err := e.Admin.Backup(ctx, actorOf(ctx), *to)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "backed up %s to %s (%d bytes)\n", e.cfg.Database, b.Path, b.Bytes)
	fmt.Fprintf(s.err, "idp: keep the master key file %s with this backup: without it the signing keys and client secrets in it cannot be used\n",
		e.cfg.MasterKeyFile)
	return nil
}
