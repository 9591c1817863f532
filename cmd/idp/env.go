package main

import (
	"context"
	"log/slog"
	"runtime/debug"

	"idp/app"
	"idp/server"
)

// env is an opened, migrated database with the parts of idp over it
// (app.App, the one wiring): what every command except --help needs.
type env struct {
	*app.App
	cfg Config
	log *slog.Logger
}

// adminSettings are the settings every admin command takes. None of the
// key schedule's: `keys rotate` judges from the times stored with the keys
// and the policies the running servers recorded, never from flags of its
// own, so it cannot disagree with them.
func adminSettings() []setting {
	return append([]setting{sDatabase, sMasterKeyFile}, dbSettings()...)
}

// openEnv opens and migrates the database, loads (or, for a SQLite file,
// creates) the master key and builds the parts through app.Open.
func openEnv(ctx context.Context, cfg Config, log *slog.Logger) (*env, error) {
	a, err := app.Open(ctx, cfg.app(log))
	if err != nil {
		return nil, err
	}
	return &env{App: a, cfg: cfg, log: log}, nil
}

// app is the wiring's configuration of c.
func (c Config) app(log *slog.Logger) app.Config {
	return app.Config{
		Server: server.Config{
			Issuer:                c.Issuer,
			AccessTokenTTL:        c.AccessTokenTTL,
			RefreshTokenTTL:       c.RefreshTokenTTL,
			RefreshReuseGrace:     c.RefreshReuseGrace,
			JWKSMaxAge:            c.JWKSMaxAge,
			KeyRotationInterval:   c.RotationInterval,
			TokenRateLimit:        c.TokenRateLimit,
			TrustedProxies:        c.TrustedProxies,
			MFARequiredRoles:      c.MFARequiredRoles,
			Registration:          c.Registration,
			RegistrationIdleTTL:   c.RegistrationIdleTTL,
			Signup:                c.Signup,
			SignupDomains:         c.SignupDomains,
			RequirePAR:            c.RequirePAR,
			DPoPNonce:             c.DPoPNonce,
			DPoPWindow:            c.DPoPWindow,
			NoPasswordLogin:       c.NoPasswordLogin,
			UpstreamCheckInterval: c.UpstreamCheckInterval,
		},
		Database:       c.Database,
		DB:             c.DB,
		MasterKeyFile:  c.MasterKeyFile,
		RefreshIdleTTL: c.RefreshIdleTTL,
		ThrottleAfter:  c.ThrottleAfter,
		SigninLockout:  c.SigninLockout,
		Serving:        c.Serving,
		Tracing:        c.tracing(),
		Mail:           app.MailConfig{SMTPURL: c.SMTPURL, From: c.MailFrom},
		ThemeDir:       c.ThemeDir,
		Now:            c.now,
		Logger:         log,
	}
}

func (e *env) close() {
	if err := e.Close(); err != nil {
		e.log.Warn("close", "error", err.Error())
	}
}

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
	if err := e.Start(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// tracing is the OpenTelemetry export of c, nil when off.
func (c Config) tracing() *app.Tracing {
	if c.OTLPEndpoint == "" {
		return nil
	}
	return &app.Tracing{Endpoint: c.OTLPEndpoint, Version: buildVersion()}
}

// buildVersion is the module version the binary was built from, or
// "devel".
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
