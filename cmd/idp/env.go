package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/keys"
	"idp/users"
)

// env is an opened, migrated database with the domain services over it:
// what every command except --help needs.
type env struct {
	audit   *audit.Log
	cfg     Config
	db      *db.DB
	master  keys.MasterKey
	users   *users.Service
	clients *clients.Service
	keys    *keys.Manager
}

// adminSettings are the settings every admin command takes. None of the
// key schedule's: `keys rotate` judges from the times stored with the keys
// and the policies the running servers recorded, never from flags of its
// own, so it cannot disagree with them.
func adminSettings() []setting {
	return append([]setting{sDatabase, sMasterKeyFile}, dbSettings()...)
}

// openEnv opens and migrates the database, loads (or, for a SQLite file,
// creates) the master key and builds the services.
func openEnv(ctx context.Context, cfg Config, log *slog.Logger) (*env, error) {
	d, err := db.Open(ctx, cfg.Database, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	mk, err := loadMasterKey(ctx, cfg, d, log)
	if err != nil {
		d.Close()
		return nil, err
	}
	now := cfg.now
	auditLog := audit.New(audit.NewStore(d.Gorm), now, log)
	km := keys.NewManager(d.Gorm, mk, keys.Options{
		OnEvent: func(ctx context.Context, action, kid, detail string) {
			auditLog.Record(ctx, action, kid, detail)
		},
		Now:              now,
		TokenTTL:         cfg.AccessTokenTTL,
		JWKSMaxAge:       cfg.JWKSMaxAge,
		RotationInterval: cfg.RotationInterval,
		Admin:            !cfg.Serving,
		Logger:           log,
	})
	return &env{
		cfg:     cfg,
		db:      d,
		master:  mk,
		users:   users.NewService(users.NewStore(d.Gorm), users.DefaultParams, now),
		clients: clients.NewService(clients.NewStore(d.Gorm), mk.Derive("client-secret"), now),
		keys:    km,
		audit:   auditLog,
	}, nil
}

// loadMasterKey reads the master key; beside a SQLite file it is created on
// first use, while PostgreSQL replicas must all be given the same one.
func loadMasterKey(ctx context.Context, cfg Config, d *db.DB, log *slog.Logger) (keys.MasterKey, error) {
	if db.IsPostgres(cfg.Database) {
		return keys.LoadMasterKey(cfg.MasterKeyFile)
	}
	// A fresh key is right only for a database without signing keys: for
	// one whose keys were sealed under a now missing file it would only be
	// an undecryptable, misleading "backup me" file.
	if _, err := os.Stat(cfg.MasterKeyFile); errors.Is(err, fs.ErrNotExist) {
		// Listing reads no private part, so the zero key is never used.
		ks, err := keys.NewManager(d.Gorm, keys.MasterKey{}, keys.Options{Logger: log}).List(ctx)
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
		log.Warn("generated a new master key; back it up with the database, without it the signing keys cannot be read",
			"path", cfg.MasterKeyFile)
	}
	return mk, nil
}

func (e *env) close() { _ = e.db.Close() }

// adminEnv parses the shared admin settings of fs and opens the env.
func adminEnv(ctx context.Context, fs *settingsFlagSet, s stdio) (*env, error) {
	fs.s.resolve(fs.FlagSet, osGetenv)
	cfg, err := buildConfig(fs.s)
	if err != nil {
		return nil, err
	}
	cfg.Now = s.now
	e, err := openEnv(ctx, cfg, newLogger(s.err, "text"))
	if err != nil {
		return nil, err
	}
	if err := e.keys.Bootstrap(ctx); err != nil {
		e.close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return e, nil
}
