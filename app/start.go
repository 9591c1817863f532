package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	"idp/mail"
	"idp/users"
)

// Start does the start-up work of CONTRACT.md before anything is served,
// never lazily inside a request: a serving process records its policy
// first, so keys published from then on, by it or any other process, wait
// for its JWKS max-age; then every algorithm gets its active and next key.
// A wrong master key fails it before anything is written.
func (a *App) Start(ctx context.Context) error {
	if a.mailErr != nil {
		return fmt.Errorf("--smtp-url: %w", a.mailErr)
	}
	if a.themeErr != nil {
		return a.themeErr
	}
	if a.cfg.Serving && a.cfg.ThemeDir != "" {
		// A broken theme stops serve here, before anything is served.
		if _, err := a.pages(); err != nil {
			return err
		}
	}
	if a.Mail.Enabled() && a.cfg.Mail.From.Email == "" {
		return errors.New("--mail-from is required with --smtp-url")
	}
	if a.cfg.Serving && a.cfg.Tracing != nil {
		stop, err := StartTracing(ctx, *a.cfg.Tracing)
		if err != nil {
			return err
		}
		a.stopTracing = stop
	}
	if a.cfg.Serving {
		host, _ := os.Hostname()
		if _, err := a.Keys.Register(ctx, host, os.Getpid()); err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
		if iv := a.cfg.Server.KeyRotationInterval; iv > 0 && iv < time.Hour {
			a.cfg.Logger.Warn("key rotation interval below one hour: fine for testing relying services against rotation, "+
				"wasteful in production", "key_rotation_interval", iv.String())
		}
	}
	if a.cfg.Serving && a.Mail.Enabled() {
		a.cfg.Logger.Info("outbound mail on", "smtp_url", mail.Redact(a.cfg.Mail.SMTPURL), "from", a.cfg.Mail.From.String())
	}
	if a.cfg.Serving && a.cfg.Mail.SMTPURL == "log:" {
		a.cfg.Logger.Warn("--smtp-url log: writes every message to this log, working reset and invitation links " +
			"included: for development only; anyone who can read the log can take over accounts")
	}
	if err := a.Keys.Bootstrap(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	return nil
}

// FirstUserEmail is the sign-in name of the user created on first start.
const FirstUserEmail = "admin@localhost"

// EnsureFirstUser creates the admin user of a fresh install, with a random
// password logged once, unless a user exists (CONTRACT.md: `idp serve`).
func (a *App) EnsureFirstUser(ctx context.Context) error {
	n, err := a.Users.Store().Count(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	var b [18]byte
	_, _ = rand.Read(b[:])
	password := base64.RawURLEncoding.EncodeToString(b[:])
	u, err := a.Users.Create(ctx, FirstUserEmail, password, "admin", []string{"admin"})
	if errors.Is(err, users.ErrEmailTaken) {
		return nil // another replica created it first
	}
	if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	// The one secret idp ever logs, once, by contract: without it nobody
	// could sign in to a fresh install.
	a.cfg.Logger.Warn("created the first user; sign in and change this password", "email", u.Email, "password", password)
	return nil
}
