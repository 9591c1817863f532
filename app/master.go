package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"idp/db"
	"idp/keys"
)

// loadMasterKey reads the master key; beside a SQLite file it is created on
// first use, while PostgreSQL replicas must all be given the same one.
func loadMasterKey(ctx context.Context, cfg Config, d *db.DB) (keys.MasterKey, error) {
	if db.IsPostgres(cfg.Database) {
		return keys.LoadMasterKey(cfg.MasterKeyFile)
	}
	// A fresh key is right only for a database without signing keys: for
	// one whose keys were sealed under a now missing file it would only be
	// an undecryptable, misleading "backup me" file.
	if _, err := os.Stat(cfg.MasterKeyFile); errors.Is(err, fs.ErrNotExist) {
		// Listing reads no private part, so the zero key is never used.
		ks, err := keys.NewManager(d.Gorm, keys.MasterKey{}, keys.Options{Logger: cfg.Logger}).List(ctx)
		if err != nil {
			return keys.MasterKey{}, fmt.Errorf("list signing keys: %w", err)
		}
		if len(ks) > 0 {
			return keys.MasterKey{}, fmt.Errorf("master key file %s does not exist, but the database holds signing keys sealed under a master key: restore that file or pass it with --master-key-file", cfg.MasterKeyFile)
		}
	}
	mk, created, err := keys.LoadOrCreateMasterKey(cfg.MasterKeyFile)
	if err != nil {
		return mk, err
	}
	if created {
		cfg.Logger.Warn("generated a new master key; back it up with the database, without it the signing keys cannot be read",
			"path", cfg.MasterKeyFile)
	}
	return mk, nil
}
