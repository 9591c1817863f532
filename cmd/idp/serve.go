package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"idp/keys"
	"idp/server"
	"idp/sessions"
	"idp/templates"
	"idp/throttle"
	"idp/tokens"
	"idp/users"
)

// serveSettings are the settings of `idp serve`: CONTRACT.md's table.
func serveSettings() []setting {
	list := []setting{sIssuer, sAddr, sDatabase, sMasterKeyFile, sAccessTTL, sRefreshTTL, sRefreshIdle, sReuseGrace, sRotation, sJWKSMaxAge, sThrottleAfter, sLockout, sTokenRate, sLogFormat, sTrustedProxies}
	return append(list, dbSettings()...)
}

func runServe(ctx context.Context, args []string, s stdio) error {
	cfg, err := serveConfig(args, s)
	if err != nil {
		return err
	}
	log := newLogger(s.err, cfg.LogFormat)
	cfg.TuneGC = setMemoryLimit(log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return serve(ctx, cfg, log, ln)
}

// serveConfig parses the flags of serve and resolves them against the
// environment (osGetenv) and the defaults into a validated Config.
func serveConfig(args []string, s stdio) (Config, error) {
	fs := newSettingsFlagSet(s, "serve", "serve [flags]", serveSettings()...)
	if err := parse(fs.FlagSet, args); err != nil {
		return Config{}, err
	}
	if err := noArgs(fs.FlagSet); err != nil {
		return Config{}, err
	}
	fs.s.resolve(fs.FlagSet, osGetenv)
	cfg, err := buildConfig(fs.s)
	cfg.Serving, cfg.Now = true, s.now
	return cfg, err
}

// wrapHandler is a test hook: when non-nil, serve runs the HTTP handler it
// returns instead of the provider's own (tests wrap it to hold a request
// in flight across a shutdown). Always nil in production.
var wrapHandler func(http.Handler) http.Handler

// serve runs the provider on ln until ctx ends, then shuts down gracefully:
// in-flight requests finish (up to 25 s) before the database closes.
func serve(ctx context.Context, cfg Config, log *slog.Logger, ln net.Listener) error {
	e, err := openEnv(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer e.close()
	if err := start(ctx, e, log); err != nil {
		ln.Close()
		return err
	}
	srv, err := newServer(cfg, e, log)
	if err != nil {
		ln.Close()
		return err
	}
	var h http.Handler = srv
	if wrapHandler != nil {
		h = wrapHandler(h)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The background loops must be gone before the deferred e.close()
	// closes the database under them.
	bg, stopBG := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); e.keys.Run(bg) }()
	if cfg.TuneGC {
		loops.Add(1)
		go func() { defer loops.Done(); tuneGC(bg, e.users.Hashing, 100*time.Millisecond) }()
	}
	go func() {
		defer loops.Done()
		purgeLoop(bg, cfg.now, e.tokens(cfg, cfg.now), sessions.NewStore(e.db.Gorm), e.throttle(cfg), log)
	}()
	defer func() {
		stopBG()
		loops.Wait()
		// Admin pages stop counting this process as running; its max-age
		// still holds keys back until the JWKS it served left every cache.
		if err := e.keys.Deregister(context.Background()); err != nil {
			log.Warn("could not mark the serving policy stopped", "error", err.Error())
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("idp serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "database", e.db.Dialect,
		"rs256", keys.RS256Backend)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// throttle builds the sign-in throttle over the env.
func (e *env) throttle(cfg Config) *throttle.Throttle {
	return throttle.New(throttle.NewStore(e.db.Gorm), throttle.Config{After: cfg.ThrottleAfter, Lockout: cfg.SigninLockout})
}

// newServer wires the HTTP server over an opened env.
func newServer(cfg Config, e *env, log *slog.Logger) (*server.Server, error) {
	tpl, err := templates.Default()
	if err != nil {
		return nil, err
	}
	now := cfg.now
	return server.New(server.Config{
		Issuer:              cfg.Issuer,
		AccessTokenTTL:      cfg.AccessTokenTTL,
		RefreshTokenTTL:     cfg.RefreshTokenTTL,
		RefreshReuseGrace:   cfg.RefreshReuseGrace,
		JWKSMaxAge:          cfg.JWKSMaxAge,
		KeyRotationInterval: cfg.RotationInterval,
		TokenRateLimit:      cfg.TokenRateLimit,
		CSRFKey:             e.master.Derive("csrf"),
		Now:                 now,
		Logger:              log,
		TrustedProxies:      cfg.TrustedProxies,
	}, server.Deps{
		DB: e.db, Keys: e.keys, Users: e.users, Clients: e.clients, Templates: tpl, Audit: e.audit,
		Throttle: e.throttle(cfg),
		Sessions: sessions.NewService(sessions.NewStore(e.db.Gorm), 24*time.Hour, now),
		Tokens:   e.tokens(cfg, now),
	})
}

// tokens builds the token service over the env.
func (e *env) tokens(cfg Config, now func() time.Time) *tokens.Service {
	return tokens.NewService(tokens.NewStore(e.db.Gorm), e.keys, e.keys, e.users.Store(), tokens.Config{
		Issuer: cfg.Issuer, AccessTokenTTL: cfg.AccessTokenTTL, RefreshTokenTTL: cfg.RefreshTokenTTL,
		RefreshIdleTTL: cfg.RefreshIdleTTL, ReuseGrace: cfg.RefreshReuseGrace,
		SealKey: e.master.Derive("refresh-response"), Now: now, Audit: e.audit,
	})
}

// start does the first-start work of CONTRACT.md: signing keys, then an
// admin user if the database has no user. It runs before the listener
// serves, never lazily inside a request.
func start(ctx context.Context, e *env, log *slog.Logger) error {
	// The policy goes in first, so keys published from now on, by this
	// process or any other, wait for this process's JWKS max-age.
	host, _ := os.Hostname()
	if _, err := e.keys.Register(ctx, host, os.Getpid()); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if e.cfg.RotationInterval > 0 && e.cfg.RotationInterval < time.Hour {
		log.Warn("key rotation interval below one hour: fine for testing relying services against rotation, "+
			"wasteful in production", "key_rotation_interval", e.cfg.RotationInterval.String())
	}
	if err := e.keys.Bootstrap(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	n, err := e.users.Store().Count(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	var b [18]byte
	_, _ = rand.Read(b[:])
	password := base64.RawURLEncoding.EncodeToString(b[:])
	u, err := e.users.Create(ctx, adminEmail, password, "admin", []string{"admin"})
	if errors.Is(err, users.ErrEmailTaken) {
		return nil // another replica created it first
	}
	if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	// The one secret idp ever logs, once, by contract: without it nobody
	// could sign in to a fresh install.
	log.Warn("created the first user; sign in and change this password", "email", u.Email, "password", password)
	return nil
}

// adminEmail is the sign-in name of the user created on first start.
const adminEmail = "admin@localhost"

// purgeLoop deletes expired codes, requests, sessions, refresh families and
// denylist entries every minute, in batches of 500 so no write lock is held
// long enough to delay a request.
func purgeLoop(ctx context.Context, now func() time.Time, ts *tokens.Service, ss *sessions.Store, th *throttle.Throttle, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n, err := ts.Purge(ctx, 500)
			if err == nil {
				var m int64
				m, err = ss.DeleteExpired(ctx, now(), 500)
				n += m
			}
			if err == nil {
				var m int64
				m, err = th.Purge(ctx, 500)
				n += m
			}
			if err != nil {
				log.Error("purge expired rows failed", "error", err.Error())
				break
			}
			if n == 0 || ctx.Err() != nil {
				break
			}
		}
	}
}

// defaultMemoryLimit is the Go heap's soft limit when GOMEMLIMIT is unset.
// idp's live heap is small (everything lives in the database); what grows
// is garbage from argon2id, 19 MiB per sign-in. Without a limit a sign-in
// storm lets the heap double before the collector runs; with it RSS stays
// under 128 MiB (docs/PERFORMANCE.md). GOMEMLIMIT overrides it.
const defaultMemoryLimit = 96 << 20

// GOGC when the environment does not set it follows what the process is
// doing. Token, key-set and UserInfo traffic allocates small, short-lived
// objects many thousand times a second over a live heap of a few MiB: at
// GOGC 70 the collector ran ~60 times a second and a client_credentials
// token cost 25 % more CPU than at 200. A sign-in leaves 19 MiB of argon2id
// garbage: at 200 the heap then sits at the memory limit, where the runtime
// returns freed blocks to the system and faults them back in for the next
// hash (30 ms of CPU per sign-in instead of 22). So while a password is
// being hashed, and for a moment after, GOGC is 70; otherwise 200.
// Measured with cmd/idpbench; see docs/PERFORMANCE.md.
const (
	gcPercentIdle    = 200
	gcPercentHashing = 70
	gcHashingLinger  = 2 * time.Second // stay low this long after the last hash
)

// setMemoryLimit applies the default soft memory limit unless GOMEMLIMIT is
// set, and reports whether GOGC is left to tuneGC (GOGC unset).
func setMemoryLimit(log *slog.Logger) (tuneGOGC bool) {
	tuneGOGC = os.Getenv("GOGC") == ""
	if tuneGOGC {
		debug.SetGCPercent(gcPercentIdle)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return tuneGOGC // the runtime already applied the operator's value
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	log.Debug("memory limit set", "bytes", defaultMemoryLimit)
	return tuneGOGC
}

// tuneGC sets GOGC to gcPercentHashing while hashing() reports argon2id work
// and for gcHashingLinger after, else to gcPercentIdle, checking every
// period until ctx ends.
func tuneGC(ctx context.Context, hashing func() int, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	current, lastBusy := gcPercentIdle, time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if hashing() > 0 {
				lastBusy = now
			}
			want := gcPercentIdle
			if now.Sub(lastBusy) < gcHashingLinger {
				want = gcPercentHashing
			}
			if want != current {
				debug.SetGCPercent(want)
				current = want
			}
		}
	}
}
