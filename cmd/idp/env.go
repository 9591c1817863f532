package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"idp/clients"
	"idp/db"
	"idp/keys"
	"idp/users"
)

// env is an opened, migrated database with the domain services over it:
// what every command except --help needs.
type env struct {
	cfg     Config
	db      *db.DB
	master  keys.MasterKey
	users   *users.Service
	clients *clients.Service
	keys    *keys.Manager
}

// adminSettings are the settings every admin command takes. The key
// settings matter to `keys rotate`, which must apply the same safety rule
// and retirement window as the running server.
func adminSettings() []setting {
	return []setting{sDatabase, sMasterKeyFile, sAccessTTL, sJWKSMaxAge, sRotation}
}

// openEnv opens and migrates the database, loads (or, for a SQLite file,
// creates) the master key and builds the services.
func openEnv(ctx context.Context, cfg Config, log *slog.Logger) (*env, error) {
	d, err := db.Open(ctx, cfg.Database, db.Options{})
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	mk, err := loadMasterKey(cfg, log)
	if err != nil {
		d.Close()
		return nil, err
	}
	now := func() time.Time { return time.Now().UTC() }
	km := keys.NewManager(d.Gorm, mk, keys.Options{
		Now:              now,
		TokenTTL:         cfg.AccessTokenTTL,
		JWKSMaxAge:       cfg.JWKSMaxAge,
		RotationInterval: cfg.RotationInterval,
		Logger:           log,
	})
	return &env{
		cfg:     cfg,
		db:      d,
		master:  mk,
		users:   users.NewService(users.NewStore(d.Gorm), users.DefaultParams, now),
		clients: clients.NewService(clients.NewStore(d.Gorm), mk.Derive("client-secret"), now),
		keys:    km,
	}, nil
}

// loadMasterKey reads the master key; beside a SQLite file it is created on
// first use, while PostgreSQL replicas must all be given the same one.
func loadMasterKey(cfg Config, log *slog.Logger) (keys.MasterKey, error) {
	if db.IsPostgres(cfg.Database) {
		return keys.LoadMasterKey(cfg.MasterKeyFile)
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
