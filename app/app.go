package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"idp/admin"
	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/keys"
	"idp/logout"
	"idp/mail"
	"idp/mfa"
	"idp/resources"
	"idp/selfservice"
	"idp/server"
	"idp/sessions"
	"idp/templates"
	"idp/throttle"
	"idp/tokens"
	"idp/upstreams"
	"idp/users"
)

// Config is everything the wiring needs, already validated (cmd/idp parses
// and checks flags and environment; the harnesses fill it directly).
type Config struct {
	// Server is the HTTP server's configuration. Its CSRFKey, Now and
	// Logger are filled from the master key and the fields below when empty.
	Server server.Config
	// Database is a SQLite file path or a postgres:// URL, for Open.
	Database string
	// DB tunes the connection pool, for Open.
	DB db.Options
	// MasterKeyFile holds the master key, for Open: created beside a SQLite
	// database on first use, required for PostgreSQL.
	MasterKeyFile string
	// RefreshIdleTTL expires a refresh token unused this long (0: the
	// absolute lifetime).
	RefreshIdleTTL time.Duration
	// ThrottleAfter and SigninLockout tune the sign-in throttle (0: its
	// defaults).
	ThrottleAfter int
	SigninLockout time.Duration
	// Hashing is the argon2id cost (zero: users.DefaultParams); tests make
	// it cheap.
	Hashing users.Params
	// Serving marks `idp serve`: its key manager records its policy and
	// publishes the JWKS. Admin commands judge the key schedule from the
	// policies the serving processes recorded instead.
	Serving bool
	// Tracing, when set, exports OpenTelemetry traces of a serving
	// process (Start installs it, Close flushes it).
	Tracing *Tracing
	// Mail is outbound mail; without an SMTP URL the flows that need it
	// are off.
	Mail MailConfig
	// ThemeDir is --theme-dir: a folder whose files replace the embedded
	// pages, static files (stylesheet, logo) and, under mail/, the mail
	// templates of the same name. Empty: the embedded look.
	ThemeDir string
	// Now is the clock (default: the system clock in UTC).
	Now func() time.Time
	// Logger receives the logs (default slog.Default()).
	Logger *slog.Logger
}

// MailConfig is outbound mail, already validated by cmd/idp.
type MailConfig struct {
	// SMTPURL is --smtp-url: smtp://, smtps:// or log: (mail.NewSender);
	// empty: mail is off.
	SMTPURL string
	// From is --mail-from, the sender of every message.
	From mail.Address
	// TLS verifies the SMTP server instead of the system roots (tests
	// trust their own server's certificate with it).
	TLS *tls.Config
}

// App is the running parts of one idp process.
type App struct {
	cfg    Config
	ownsDB bool
	// stopTracing flushes and stops the exporter Start installed.
	stopTracing func(context.Context) error
	DB          *db.DB
	Master      keys.MasterKey
	Audit       *audit.Log
	Users       *users.Service
	Clients     *clients.Service
	Resources   *resources.Service
	Keys        *keys.Manager
	Sessions    *sessions.Service
	Tokens      *tokens.Service
	Throttle    *throttle.Throttle
	MFA         *mfa.Service
	// Mail is the outbox; Mail.Enabled() is false without --smtp-url.
	Mail *mail.Service
	// SelfService is password reset by mailed link (offered only when
	// Mail is enabled).
	SelfService *selfservice.Service
	// mailErr is a bad SMTP URL, themeErr a bad mail template; Start
	// reports them.
	mailErr, themeErr error
	// Admin is every administrative action, for the CLI, the admin pages
	// and the admin API alike.
	Admin *admin.Service
	// Upstreams are the providers people may sign in with (issue #18).
	Upstreams *upstreams.Service
	// Logout tells relying parties that sessions ended (back- and
	// front-channel logout).
	Logout *logout.Service
}

// Open opens and migrates cfg.Database, loads (or, beside a SQLite file,
// creates) the master key and builds the parts over them. Close closes the
// database.
func Open(ctx context.Context, cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	d, err := db.Open(ctx, cfg.Database, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	mk, err := loadMasterKey(ctx, cfg, d)
	if err != nil {
		d.Close()
		return nil, err
	}
	a := New(d, mk, cfg)
	a.ownsDB = true
	return a, nil
}

// New builds the parts over an open, migrated database and a master key.
// It does no I/O; Start does the first-start work. Close leaves d open.
func New(d *db.DB, mk keys.MasterKey, cfg Config) *App {
	cfg = cfg.withDefaults()
	now, log := cfg.Now, cfg.Logger
	a := &App{cfg: cfg, DB: d, Master: mk}
	a.Audit = audit.New(audit.NewStore(d.Gorm), now, log)
	a.Keys = keys.NewManager(d.Gorm, mk, keys.Options{
		OnEvent: func(ctx context.Context, action, kid, detail string) {
			a.Audit.Record(ctx, action, kid, detail)
		},
		Now:              now,
		TokenTTL:         cfg.Server.AccessTokenTTL,
		JWKSMaxAge:       cfg.Server.JWKSMaxAge,
		RotationInterval: cfg.Server.KeyRotationInterval,
		Admin:            !cfg.Serving,
		Logger:           log,
	})
	a.Users = users.NewService(users.NewStore(d.Gorm), cfg.Hashing, now)
	a.Clients = clients.NewService(clients.NewStore(d.Gorm), mk.Derive("client-secret"), now)
	a.Resources = resources.NewService(resources.NewStore(d.Gorm), mk.Derive("resource-secret"), cfg.Server.AccessTokenTTL, now)
	a.Sessions = sessions.NewService(sessions.NewStore(d.Gorm), cfg.Server.SessionTTL, now)
	a.Tokens = tokens.NewService(tokens.NewStore(d.Gorm), a.Keys, a.Keys, a.Users.Store(), tokens.Config{
		Issuer: cfg.Server.Issuer, AccessTokenTTL: cfg.Server.AccessTokenTTL, RefreshTokenTTL: cfg.Server.RefreshTokenTTL,
		RefreshIdleTTL: cfg.RefreshIdleTTL, ReuseGrace: cfg.Server.RefreshReuseGrace,
		SealKey: mk.Derive("refresh-response"), Now: now, Audit: a.Audit, Resources: a.Resources,
		UpstreamCheck: a.checkUpstream,
	})
	a.wireLogout()
	a.MFA = mfa.NewService(mfa.NewStore(d.Gorm), mfa.Config{Issuer: cfg.Server.Issuer, SealKey: mk.Derive("totp-secret"), Now: now})
	a.Upstreams = upstreams.NewService(upstreams.NewStore(d.Gorm), a.Users, upstreams.Config{
		Issuer: cfg.Server.Issuer, SealKey: mk.Derive("upstream-secret"), Now: now,
		CheckInterval: cfg.Server.UpstreamCheckInterval, Log: log})
	a.Throttle = throttle.New(throttle.NewStore(d.Gorm), throttle.Config{
		After: cfg.ThrottleAfter, Lockout: cfg.SigninLockout, Now: now,
	})
	var sender mail.Sender
	if cfg.Mail.SMTPURL != "" {
		sender, a.mailErr = mail.NewSender(cfg.Mail.SMTPURL, log, mail.SMTPOptions{TLSConfig: cfg.Mail.TLS})
	}
	a.Mail = mail.NewService(mail.NewStore(d.Gorm), mail.Config{Sender: sender, From: cfg.Mail.From, Now: now, Logger: log})
	mailTpl, err := a.mailTemplates()
	a.themeErr = err
	a.SelfService = selfservice.NewService(selfservice.NewStore(d.Gorm), selfservice.Deps{
		DB: d, Users: a.Users, Sessions: a.Sessions, Tokens: a.Tokens, Mail: a.Mail, Templates: mailTpl,
	}, selfservice.Config{Issuer: cfg.Server.Issuer, Now: now})
	a.Admin = admin.New(admin.Deps{DB: d, Users: a.Users, Clients: a.Clients, Resources: a.Resources, Upstreams: a.Upstreams, Sessions: a.Sessions, Tokens: a.Tokens,
		Keys: a.Keys, Audit: a.Audit, Throttle: a.Throttle, MFA: a.MFA, Verifier: a.SelfService, Now: now})
	return a
}

// withDefaults fills the clock, the logger, the hashing cost and the
// session lifetime.
func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Hashing == (users.Params{}) {
		c.Hashing = users.DefaultParams
	}
	if c.Server.SessionTTL == 0 {
		c.Server.SessionTTL = 24 * time.Hour
	}
	return c
}

// mailTemplates are the embedded mail templates, under the theme's mail/
// folder when there is one.
func (a *App) mailTemplates() (*mail.Templates, error) {
	if a.cfg.ThemeDir == "" {
		return mail.DefaultTemplates()
	}
	t, err := mail.LoadTemplates(templates.Overlay(os.DirFS(filepath.Join(a.cfg.ThemeDir, "mail")), mail.Embedded()))
	if err != nil {
		return nil, fmt.Errorf("--theme-dir %s: %w", a.cfg.ThemeDir, err)
	}
	return t, nil
}

// pages are the embedded pages, under the theme when there is one.
func (a *App) pages() (*templates.Set, error) {
	if a.cfg.ThemeDir == "" {
		return templates.Default()
	}
	t, err := templates.LoadTheme(os.DirFS(a.cfg.ThemeDir))
	if err != nil {
		return nil, fmt.Errorf("--theme-dir %s: %w", a.cfg.ThemeDir, err)
	}
	return t, nil
}

// Server builds the HTTP server over the parts.
func (a *App) Server() (*server.Server, error) {
	tpl, err := a.pages()
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	cfg := a.ServerConfig()
	return server.New(cfg, server.Deps{
		DB: a.DB, Keys: a.Keys, Users: a.Users, Clients: a.Clients, Resources: a.Resources, Sessions: a.Sessions, Tokens: a.Tokens,
		Templates: tpl, Audit: a.Audit, Throttle: a.Throttle, Admin: a.Admin, MFA: a.MFA, Mail: a.Mail,
		SelfService: a.SelfService, Logout: a.Logout, Upstreams: a.Upstreams,
	})
}

// ServerConfig is the HTTP server's configuration as Server applies it.
func (a *App) ServerConfig() server.Config {
	cfg := a.cfg.Server
	if cfg.CSRFKey == nil {
		cfg.CSRFKey = a.Master.Derive("csrf")
	}
	if cfg.DPoPNonceKey == nil {
		cfg.DPoPNonceKey = a.Master.Derive("dpop-nonce")
	}
	if cfg.Now == nil {
		cfg.Now = a.cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = a.cfg.Logger
	}
	return cfg
}

// drainTimeout bounds how long Close waits for the upstream tokens still
// being given back (at most revokeTimeout each, upstreams/revoke.go).
const drainTimeout = 15 * time.Second

// Close ends what Start began (a serving process's policy is marked
// stopped) and closes the database if Open opened it.
func (a *App) Close() error {
	var errs []error
	// Tokens being given back to an upstream (upstreams/revoke.go): a CLI
	// `upstreams delete` exits right after starting them.
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	if a.Upstreams != nil && !a.Upstreams.Drain(ctx) {
		a.cfg.Logger.Warn("upstream tokens still being given back at shutdown; the rest stay live there")
	}
	cancel()
	if a.stopTracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.stopTracing(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush traces: %w", err))
		}
		cancel()
	}
	if a.cfg.Serving {
		if err := a.Keys.Deregister(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("mark the serving policy stopped: %w", err))
		}
	}
	if a.ownsDB {
		errs = append(errs, a.DB.Close())
	}
	return errors.Join(errs...)
}
