package main

import (
	"context"
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
)

// serveSettings are the settings of `idp serve`: CONTRACT.md's table.
func serveSettings() []setting {
	list := []setting{sIssuer, sAddr, sDatabase, sMasterKeyFile, sAccessTTL, sRefreshTTL, sRefreshIdle, sReuseGrace, sRotation, sJWKSMaxAge, sThrottleAfter, sLockout, sTokenRate, sLogFormat, sTrustedProxies, sMFARoles, sOTLP, sSMTPURL, sMailFrom, sThemeDir, sRegistration, sRegistrationIdle, sSignup, sSignupDomains}
	list = append(list, sRequirePAR, sPasswordLogin, sUpstreamCheck)
	list = append(list, sDPoPNonce, sDPoPWindow)
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
	if err := e.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	if err := e.EnsureFirstUser(ctx); err != nil {
		ln.Close()
		return err
	}
	srv, err := e.Server()
	if err != nil {
		ln.Close()
		return err
	}
	// Start-up is the heaviest idle moment: the argon2id hashes of the
	// first user and of the dummy unknown emails are checked against (64
	// MiB each by default), key generation, template parsing. Give
	// what it freed back to the OS now instead of after the scavenger's
	// minutes, so an idle replica is small.
	e.Users.Prepare()
	debug.FreeOSMemory()
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
	loops.Add(1)
	go func() { defer loops.Done(); e.Run(bg) }()
	if cfg.TuneGC {
		loops.Add(1)
		go func() { defer loops.Done(); tuneGC(bg, e.Users.Hashing, 100*time.Millisecond) }()
	}
	defer func() { stopBG(); loops.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("idp serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "database", e.DB.Dialect,
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
